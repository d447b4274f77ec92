//! `kino-translator-openai`: a `translator` plugin backed by an
//! OpenAI-compatible chat-completions endpoint.
//!
//! Each call sends the segments (ids and text) as one JSON user message to
//! `{endpoint}/chat/completions` and expects the model to answer with a JSON
//! object `{"segments": [{"id": ..., "text": ...}]}`. The reply is checked
//! before anything is returned: every id sent comes back exactly once, no
//! other id appears, and no translation is empty. Ids, timing and speaker
//! are taken from the input, never from the model.
//!
//! The plugin holds no API key. It reaches the network only through the
//! host's `wasi:http`, which the operator grants per origin; the host adds
//! the tenant's credential (`authorization: Bearer ...`) to requests for the
//! granted origin after they leave the sandbox.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `endpoint` | `https://api.openai.com/v1` | base URL of the API |
//! | `model` | `gpt-4o-mini` | the chat model |
//! | `batch-size` | 32 | the most segments per call, 1..=128 |
//!
//! How the endpoint's answers become plugin errors: 429 is `rate-limited`
//! (after the `retry-after` header, else 1 s); 5xx, refused connections and
//! timeouts are `unavailable`; 401 and 403 are `invalid-input` saying the
//! credential was refused; other 4xx are `invalid-input` with the endpoint's
//! message; a request the host refuses (origin not granted) is
//! `invalid-input`, since retrying cannot help.

mod client;

use kino_plugin_sdk::{LanguagePair, PluginError, Segment, TranslatedSegment, Translator};
use serde::{Deserialize, Serialize};

/// The default base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The default and the largest `batch-size`.
pub const DEFAULT_BATCH_SIZE: u32 = 32;
/// The largest `batch-size` accepted.
pub const MAX_BATCH_SIZE: u32 = 128;

/// The languages offered as pairs; the model can do more, but a translator
/// lists what it vouches for.
const LANGUAGES: [&str; 14] = [
    "ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "nl", "pl", "pt", "tr", "zh",
];

/// Every ordered pair of the languages this plugin vouches for: ar, de, en,
/// es, fr, hi, it, ja, ko, nl, pl, pt, tr, zh.
pub fn supported_pairs() -> Vec<LanguagePair> {
    LANGUAGES
        .iter()
        .flat_map(|source| {
            LANGUAGES
                .iter()
                .filter(move |target| *target != source)
                .map(move |target| LanguagePair {
                    source: (*source).to_owned(),
                    target: (*target).to_owned(),
                })
        })
        .collect()
}

/// Where requests go, parsed from the `endpoint` config value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `true` for https.
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// The path of the chat-completions resource, e.g. `/v1/chat/completions`.
    pub path: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/base]`; the resource is `{base}/chat/completions`.
    pub fn parse(url: &str) -> Result<Self, PluginError> {
        let bad =
            |why: &str| PluginError::invalid_input(format!("config `endpoint` {url:?}: {why}"));
        let (scheme, rest) = url
            .trim()
            .split_once("://")
            .ok_or_else(|| bad("expected http(s)://HOST[/PATH]"))?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => return Err(bad("the scheme must be https or http")),
        };
        let (authority, base) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) {
            return Err(bad("expected a host name, optionally with a port"));
        }
        if base.contains(['?', '#']) {
            return Err(bad("a base URL has no query or fragment"));
        }
        Ok(Self {
            https,
            authority: authority.to_owned(),
            path: format!("{}/chat/completions", base.trim_end_matches('/')),
        })
    }

    /// The URL, for messages.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }
}

/// The plugin's configuration, read from the host.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to send requests.
    pub endpoint: Endpoint,
    /// The model to ask.
    pub model: String,
    /// The most segments per call.
    pub batch_size: u32,
}

impl Settings {
    /// Reads and checks the configuration.
    pub fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let endpoint =
            Endpoint::parse(&get("endpoint").unwrap_or_else(|| DEFAULT_ENDPOINT.into()))?;
        let model = get("model").unwrap_or_else(|| DEFAULT_MODEL.into());
        if model.trim().is_empty() {
            return Err(PluginError::invalid_input("config `model` is empty"));
        }
        let batch_size = match get("batch-size") {
            None => DEFAULT_BATCH_SIZE,
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_BATCH_SIZE).contains(n))
                .ok_or_else(|| {
                    PluginError::invalid_input(format!(
                        "config `batch-size` {text:?}: expected a number from 1 to {MAX_BATCH_SIZE}"
                    ))
                })?,
        };
        Ok(Self {
            endpoint,
            model,
            batch_size,
        })
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    temperature: f32,
    response_format: ResponseFormat,
    messages: [Message; 2],
}

#[derive(Serialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Message {
    role: &'static str,
    content: String,
}

#[derive(Serialize, Deserialize)]
struct Item {
    id: String,
    text: String,
}

#[derive(Serialize)]
struct UserMessage<'a> {
    source: &'a str,
    target: &'a str,
    segments: Vec<Item>,
}

/// The JSON body of the chat-completions request for `segments`.
pub fn request_body(
    model: &str,
    source: &str,
    target: &str,
    segments: &[Segment],
) -> Result<Vec<u8>, PluginError> {
    let system = format!(
        "You translate subtitle and voice-over segments from {source} to {target}. \
         The user sends JSON: {{\"source\", \"target\", \"segments\": [{{\"id\", \"text\"}}]}}. \
         Reply with only a JSON object {{\"segments\": [{{\"id\", \"text\"}}]}} holding every \
         id exactly once, in the same order, each with its translated text. Keep the meaning, \
         tone and roughly the length; keep names, numbers and brand names; add no notes."
    );
    let user = UserMessage {
        source,
        target,
        segments: segments
            .iter()
            .map(|s| Item {
                id: s.id.clone(),
                text: s.text.clone(),
            })
            .collect(),
    };
    let user = serde_json::to_string(&user)
        .map_err(|e| PluginError::internal(format!("encoding the segments: {e}")))?;
    serde_json::to_vec(&ChatRequest {
        model,
        temperature: 0.0,
        response_format: ResponseFormat {
            kind: "json_object",
        },
        messages: [
            Message {
                role: "system",
                content: system,
            },
            Message {
                role: "user",
                content: user,
            },
        ],
    })
    .map_err(|e| PluginError::internal(format!("encoding the request: {e}")))
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ReplyMessage,
}

#[derive(Deserialize)]
struct ReplyMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Reply {
    Object { segments: Vec<Item> },
    List(Vec<Item>),
}

/// Turns the endpoint's reply into one translated segment per input, in
/// input order, with ids and timing from the input.
pub fn parse_reply(
    body: &[u8],
    segments: Vec<Segment>,
) -> Result<Vec<TranslatedSegment>, PluginError> {
    let bad = |why: String| PluginError::internal(format!("the model's reply was unusable: {why}"));
    let response: ChatResponse = serde_json::from_slice(body)
        .map_err(|e| bad(format!("not a chat-completions response ({e})")))?;
    let content = response
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .ok_or_else(|| bad("no choices[0].message.content".into()))?;
    let items = match serde_json::from_str::<Reply>(strip_fence(&content)) {
        Ok(Reply::Object { segments }) | Ok(Reply::List(segments)) => segments,
        Err(e) => return Err(bad(format!("the content is not the segments JSON ({e})"))),
    };
    let mut texts: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for item in items {
        if !segments.iter().any(|s| s.id == item.id) {
            return Err(bad(format!("it has id {:?}, which was not sent", item.id)));
        }
        if item.text.trim().is_empty() {
            return Err(bad(format!("the translation of {:?} is empty", item.id)));
        }
        if texts.insert(item.id.clone(), item.text).is_some() {
            return Err(bad(format!("id {:?} appears twice", item.id)));
        }
    }
    segments
        .into_iter()
        .map(|segment| {
            let text = texts
                .remove(&segment.id)
                .ok_or_else(|| bad(format!("segment {:?} is missing", segment.id)))?;
            Ok(TranslatedSegment {
                segment: Segment { text, ..segment },
                untranslated: Vec::new(),
            })
        })
        .collect()
}

/// Drops a Markdown code fence some models wrap JSON in.
fn strip_fence(content: &str) -> &str {
    let content = content.trim();
    match content.strip_prefix("```") {
        Some(rest) => rest
            .trim_start_matches("json")
            .trim_end()
            .trim_end_matches("```")
            .trim(),
        None => content,
    }
}

/// The plugin error for a non-2xx answer.
pub fn status_error(status: u16, retry_after: Option<&str>, body: &[u8], url: &str) -> PluginError {
    let said = error_message(body);
    match status {
        429 => {
            let retry_after_ms = retry_after
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map_or(1000, |s| (s * 1000.0).ceil() as u64);
            PluginError::rate_limited(retry_after_ms, format!("{url} answered 429: {said}"))
        }
        401 | 403 => PluginError::invalid_input(format!(
            "{url} refused the credential (HTTP {status}): check the tenant's API key secret; {said}"
        )),
        500..=599 => PluginError::unavailable(format!("{url} answered {status}: {said}")),
        _ => PluginError::invalid_input(format!("{url} answered {status}: {said}")),
    }
}

/// The `error.message` of an OpenAI-style error body, or the start of the body.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }
    #[derive(Deserialize)]
    struct ErrorDetail {
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => e.error.message,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let mut cut = text.len().min(200);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let text = text[..cut].trim();
            if text.is_empty() {
                "no message".to_owned()
            } else {
                text.to_owned()
            }
        }
    }
}

/// Translates `segments` with the endpoint and model in `settings`.
pub fn translate_with(
    settings: &Settings,
    source: &str,
    target: &str,
    segments: Vec<Segment>,
) -> Result<Vec<TranslatedSegment>, PluginError> {
    if segments.len() > settings.batch_size as usize {
        return Err(PluginError::invalid_input(format!(
            "{} segments in one call, more than max-batch-size {}",
            segments.len(),
            settings.batch_size
        )));
    }
    // Blank segments need no model; they pass through as they are.
    let (blank, todo): (Vec<_>, Vec<_>) = segments
        .iter()
        .cloned()
        .partition(|s| s.text.trim().is_empty());
    let mut translated = if todo.is_empty() {
        Vec::new()
    } else {
        let body = request_body(&settings.model, source, target, &todo)?;
        let reply = client::post_json(&settings.endpoint, &body)?;
        if !(200..300).contains(&reply.status) {
            return Err(status_error(
                reply.status,
                reply.retry_after.as_deref(),
                &reply.body,
                &settings.endpoint.url(),
            ));
        }
        parse_reply(&reply.body, todo)?
    };
    translated.extend(blank.into_iter().map(|segment| TranslatedSegment {
        segment,
        untranslated: Vec::new(),
    }));
    // Back into input order.
    let order = |id: &str| segments.iter().position(|s| s.id == id);
    translated.sort_by_key(|t| order(&t.segment.id));
    Ok(translated)
}

struct OpenAi;

impl Translator for OpenAi {
    fn supported_pairs() -> Vec<LanguagePair> {
        supported_pairs()
    }

    fn max_batch_size() -> u32 {
        Settings::from_config(kino_plugin_sdk::config).map_or(DEFAULT_BATCH_SIZE, |s| s.batch_size)
    }

    fn translate(
        source: String,
        target: String,
        segments: Vec<Segment>,
    ) -> Result<Vec<TranslatedSegment>, PluginError> {
        let settings = Settings::from_config(kino_plugin_sdk::config)?;
        let count = segments.len();
        let translated = translate_with(&settings, &source, &target, segments)?;
        kino_plugin_sdk::log::info(&format!(
            "translated {count} segments {source}->{target} with {}",
            settings.model
        ));
        Ok(translated)
    }
}

kino_plugin_sdk::export_translator!(OpenAi);

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(id: &str, text: &str) -> Segment {
        Segment {
            id: id.to_owned(),
            start_ms: 100,
            end_ms: 900,
            speaker: "narrator".to_owned(),
            text: text.to_owned(),
        }
    }

    fn reply(content: &str) -> Vec<u8> {
        serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("https://api.openai.com/v1/").expect("valid");
        assert_eq!(e.authority, "api.openai.com");
        assert_eq!(e.path, "/v1/chat/completions");
        assert!(e.https);
        let e = Endpoint::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(e.url(), "http://127.0.0.1:8080/chat/completions");
        for bad in [
            "api.openai.com",
            "ftp://x",
            "https://",
            "https://u@x/v1",
            "https://x/v1?q",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_have_defaults_and_checked_batch_size() {
        let s = Settings::from_config(|_| None).expect("defaults");
        assert_eq!(s.model, DEFAULT_MODEL);
        assert_eq!(s.batch_size, DEFAULT_BATCH_SIZE);
        assert!(Settings::from_config(|k| (k == "batch-size").then(|| "0".into())).is_err());
        assert!(Settings::from_config(|k| (k == "batch-size").then(|| "129".into())).is_err());
    }

    #[test]
    fn request_carries_model_and_segments() {
        let body = request_body("m", "en", "es", &[segment("a", "Hello")]).expect("encodes");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["model"], "m");
        assert_eq!(v["messages"][0]["role"], "system");
        let user: serde_json::Value =
            serde_json::from_str(v["messages"][1]["content"].as_str().expect("text"))
                .expect("json");
        assert_eq!(user["segments"][0]["id"], "a");
        assert_eq!(user["segments"][0]["text"], "Hello");
    }

    #[test]
    fn replies_keep_input_ids_and_timing() {
        let out = parse_reply(
            &reply(r#"{"segments":[{"id":"b","text":"Adiós"},{"id":"a","text":"Hola"}]}"#),
            vec![segment("a", "Hello"), segment("b", "Goodbye")],
        )
        .expect("valid reply");
        assert_eq!(out[0].segment.id, "a");
        assert_eq!(out[0].segment.text, "Hola");
        assert_eq!(out[0].segment.start_ms, 100);
        assert_eq!(out[1].segment.text, "Adiós");
        let fenced = parse_reply(
            &reply("```json\n[{\"id\":\"a\",\"text\":\"Hola\"}]\n```"),
            vec![segment("a", "Hello")],
        )
        .expect("fenced list");
        assert_eq!(fenced[0].segment.text, "Hola");
    }

    #[test]
    fn bad_replies_are_refused() {
        let two = || vec![segment("a", "Hello"), segment("b", "Bye")];
        for (content, why) in [
            (r#"{"segments":[{"id":"a","text":"Hola"}]}"#, "missing"),
            (
                r#"{"segments":[{"id":"a","text":"Hola"},{"id":"b","text":" "}]}"#,
                "empty",
            ),
            (
                r#"{"segments":[{"id":"a","text":"x"},{"id":"a","text":"y"}]}"#,
                "twice",
            ),
            (r#"{"segments":[{"id":"z","text":"x"}]}"#, "not sent"),
            ("Sure! Here you go", "not the segments JSON"),
        ] {
            match parse_reply(&reply(content), two()) {
                Err(PluginError::Internal(message)) => assert!(message.contains(why), "{message}"),
                other => panic!("{content}: {other:?}"),
            }
        }
        assert!(parse_reply(b"{}", two()).is_err());
    }

    #[test]
    fn statuses_map_to_plugin_errors() {
        let body = br#"{"error":{"message":"slow down"}}"#;
        match status_error(429, Some("2"), body, "u") {
            PluginError::RateLimited(r) => {
                assert_eq!(r.retry_after_ms, 2000);
                assert!(r.message.contains("slow down"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(503, None, b"", "u"),
            PluginError::Unavailable(_)
        ));
        match status_error(401, None, b"", "u") {
            PluginError::InvalidInput(m) => assert!(m.contains("refused the credential")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(400, None, b"", "u"),
            PluginError::InvalidInput(_)
        ));
    }
}
