//! `kino-speech-elevenlabs`: a `speech` plugin for an ElevenLabs-style API.
//!
//! - `voices` lists the account's voices (`GET {endpoint}/v1/voices`), with
//!   the languages each is verified for and whether it is a clone.
//! - `synthesize` posts the text to
//!   `{endpoint}/v1/text-to-speech/{voice}?output_format={format}` with the
//!   model, the language's primary subtag and the rate as `speed` (clamped to
//!   the 0.7..=1.2 the API accepts), and splices the audio it answers into
//!   the host's sink. The API answers at once: synthesis is always `done`,
//!   and `check` has no ticket to ask after.
//! - `create_voice` uploads the samples as a multipart form
//!   (`POST {endpoint}/v1/voices/add`, each sample spliced from the host's
//!   stream) and answers the new voice's id; the host stores it for the
//!   tenant.
//!
//! Errors come through the SDK's `http` status handling (429 is
//! `rate-limited` after `retry-after`; 408 and 5xx `unavailable`; other 4xx
//! `invalid-input`), with the message of an ElevenLabs error body
//! (`{"detail": {"status", "message"}}` or `{"detail": "..."}`) in place of
//! the raw body.
//!
//! Configuration: `endpoint` (default `https://api.elevenlabs.io`), `model`
//! (default `eleven_multilingual_v2`), `voice-id` (the voice for requests
//! that name none; default `21m00Tcm4TlvDq8ikWAM`) and `output-format`
//! (default `mp3_44100_128`). The host adds the tenant's `xi-api-key`; the
//! plugin never sees it.

use kino_plugin_sdk::http::{Method, Multipart, Request, Response, Url, status_error};
use kino_plugin_sdk::{
    MediaIn, MediaOut, PluginError, Speech, SpeechAudio, SpeechProgress, SpeechRequest, Voice,
};
use serde::Deserialize;
use serde_json::json;

/// The default base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.elevenlabs.io";
/// The default model.
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";
/// The default voice ("Rachel").
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";
/// The default output format.
pub const DEFAULT_FORMAT: &str = "mp3_44100_128";
/// The slowest `speed` the API accepts.
pub const MIN_SPEED: f64 = 0.7;
/// The fastest `speed` the API accepts.
pub const MAX_SPEED: f64 = 1.2;

/// The voice list as `GET /v1/voices` answers it.
#[derive(Debug, Default, Deserialize)]
pub struct VoiceList {
    /// The voices.
    #[serde(default)]
    pub voices: Vec<ApiVoice>,
}

/// One voice of the list; fields the plugin does not use are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ApiVoice {
    /// The voice's id.
    #[serde(default)]
    pub voice_id: Option<String>,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// `premade`, `cloned`, `generated`, `professional`, ...
    #[serde(default)]
    pub category: Option<String>,
    /// Free-form labels (`accent`, `gender`, sometimes `language`).
    #[serde(default)]
    pub labels: Option<serde_json::Map<String, serde_json::Value>>,
    /// The languages the voice is verified for.
    #[serde(default)]
    pub verified_languages: Option<Vec<VerifiedLanguage>>,
}

/// A language a voice is verified for.
#[derive(Debug, Default, Deserialize)]
pub struct VerifiedLanguage {
    /// The language's code, such as `en`.
    #[serde(default)]
    pub language: Option<String>,
}

/// The answer to `POST /v1/voices/add`.
#[derive(Debug, Default, Deserialize)]
pub struct AddedVoice {
    /// The new voice's id.
    #[serde(default)]
    pub voice_id: Option<String>,
}

/// Turns one voice of the list into the host's [`Voice`]; `None` for an
/// entry without an id. Its languages are the verified ones (deduplicated,
/// in order), else the `language` label, else none; it is `cloned` when its
/// category is `cloned`.
pub fn voice(api: ApiVoice) -> Option<Voice> {
    let id = api.voice_id.map(|id| id.trim().to_owned())?;
    if id.is_empty() {
        return None;
    }
    let mut languages: Vec<String> = Vec::new();
    for language in api.verified_languages.into_iter().flatten() {
        if let Some(code) = language.language.map(|l| l.trim().to_owned())
            && !code.is_empty()
            && !languages.contains(&code)
        {
            languages.push(code);
        }
    }
    if languages.is_empty()
        && let Some(code) = api
            .labels
            .as_ref()
            .and_then(|labels| labels.get("language"))
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|code| !code.is_empty())
    {
        languages.push(code.to_owned());
    }
    let name = api
        .name
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| id.clone());
    Some(Voice {
        id,
        name,
        languages,
        cloned: api.category.as_deref() == Some("cloned"),
    })
}

/// The voices of a list, skipping entries without an id and repeats of
/// an id (the first is kept).
pub fn voices(list: VoiceList) -> Vec<Voice> {
    let mut voices: Vec<Voice> = Vec::with_capacity(list.voices.len());
    for voice in list.voices.into_iter().filter_map(voice) {
        if !voices.iter().any(|v| v.id == voice.id) {
            voices.push(voice);
        }
    }
    voices
}

/// The voice `create_voice` answers for `reply`: cloned, of `name`;
/// a reply without an id is `unavailable`.
pub fn added_voice(name: &str, reply: AddedVoice) -> Result<Voice, PluginError> {
    match reply.voice_id.map(|id| id.trim().to_owned()) {
        Some(id) if !id.is_empty() => Ok(Voice {
            id,
            name: name.to_owned(),
            languages: Vec::new(),
            cloned: true,
        }),
        _ => Err(PluginError::unavailable(format!(
            "the API answered no voice_id for the new voice `{name}`"
        ))),
    }
}

/// What an `output-format` is: the media type of its audio and its sample
/// rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFormat {
    /// `audio/mpeg`, `audio/wav` or `audio/ogg`.
    pub content_type: &'static str,
    /// The second field of the format (`mp3_44100_128`: 44100), when it is a number.
    pub sample_rate: Option<u32>,
}

/// Reads an `output-format` (`codec_samplerate[_bitrate]`). `mp3_*`,
/// `wav_*` and `opus_*` are audio with headers the host can read; `pcm_*`,
/// `ulaw_*`, `alaw_*` and anything else are refused, as is a format with
/// characters that do not belong in a query.
pub fn audio_format(format: &str) -> Result<AudioFormat, PluginError> {
    if format.is_empty()
        || !format
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(PluginError::invalid_input(format!(
            "output format `{format}` is not of the form codec_samplerate_bitrate"
        )));
    }
    let mut fields = format.split('_');
    let codec = fields.next().unwrap_or_default();
    let content_type = match codec {
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "opus" => "audio/ogg",
        _ => {
            return Err(PluginError::invalid_input(format!(
                "output format `{format}` is not supported: its audio has no header the host \
                 can read; use an mp3_*, wav_* or opus_* format"
            )));
        }
    };
    Ok(AudioFormat {
        content_type,
        sample_rate: fields
            .next()
            .and_then(|rate| rate.parse().ok())
            .filter(|rate| *rate > 0),
    })
}

/// The ISO 639 code the API takes for a BCP 47 tag: its primary subtag,
/// lowercased (`pt-BR`: `pt`). `None` (send no language) for an empty tag,
/// `und`, or a primary subtag that is not 2 or 3 letters.
pub fn language_code(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    let letters =
        (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_lowercase());
    (letters && primary != "und").then_some(primary)
}

/// The `speed` to send for `rate`: clamped to 0.7..=1.2 and rounded to
/// hundredths; 1.0 for a rate that is not finite or not positive.
pub fn speed(rate: f32) -> f64 {
    let rate = f64::from(rate);
    if !rate.is_finite() || rate <= 0.0 {
        return 1.0;
    }
    (rate.clamp(MIN_SPEED, MAX_SPEED) * 100.0).round() / 100.0
}

/// Checks a voice id before it goes into a URL path.
pub fn check_voice_id(voice: &str) -> Result<(), PluginError> {
    if voice.is_empty() {
        return Err(PluginError::invalid_input(
            "no voice: the request names none and config `voice-id` is empty",
        ));
    }
    let bad =
        |c: char| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '%' | '\\');
    if voice.chars().any(bad) || voice == "." || voice == ".." {
        return Err(PluginError::invalid_input(format!(
            "`{voice}` is not a voice id"
        )));
    }
    Ok(())
}

/// What to send for one synthesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthesis {
    /// The voice.
    pub voice: String,
    /// The path and query under the endpoint's own path.
    pub path: String,
    /// The JSON body.
    pub body: serde_json::Value,
    /// The audio asked for.
    pub format: AudioFormat,
}

/// Plans the synthesis of `request` with the `default_voice`, `model` and
/// output `format` configured; refuses empty text, a bad voice id and a
/// format the host cannot read.
pub fn plan(
    request: &SpeechRequest,
    default_voice: &str,
    model: &str,
    format: &str,
) -> Result<Synthesis, PluginError> {
    if request.text.trim().is_empty() {
        return Err(PluginError::invalid_input("the speech request has no text"));
    }
    let voice = match request.voice_id.trim() {
        "" => default_voice.trim(),
        voice => voice,
    };
    check_voice_id(voice)?;
    let audio = audio_format(format)?;
    let mut body = json!({
        "text": request.text,
        "model_id": model,
        "voice_settings": { "speed": speed(request.rate) },
    });
    if let Some(code) = language_code(&request.language) {
        body["language_code"] = json!(code);
    }
    Ok(Synthesis {
        voice: voice.to_owned(),
        path: format!("/v1/text-to-speech/{voice}?output_format={format}"),
        body,
        format: audio,
    })
}

/// The message of an ElevenLabs error body: `detail` as text, `detail.status`
/// and `detail.message`, or the `msg`s of a validation error list; `None`
/// for any other body.
pub fn detail_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let detail = value.get("detail")?;
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let message = match detail {
        serde_json::Value::String(message) => Some(message.trim().to_owned()),
        serde_json::Value::Object(_) => {
            match (text(detail.get("status")), text(detail.get("message"))) {
                (Some(status), Some(message)) => Some(format!("{status}: {message}")),
                (status, message) => message.or(status),
            }
        }
        serde_json::Value::Array(items) => {
            let messages: Vec<String> = items.iter().filter_map(|i| text(i.get("msg"))).collect();
            (!messages.is_empty()).then(|| messages.join("; "))
        }
        _ => None,
    };
    message.filter(|m| !m.is_empty())
}

/// The plugin error for a reply of `status` (not 2xx): the SDK's mapping,
/// with the API's own message in place of the body when it gives one.
pub fn http_error(status: u16, retry_after: Option<&str>, body: &[u8], url: &str) -> PluginError {
    match detail_message(body) {
        Some(message) => status_error(status, retry_after, message.as_bytes(), url),
        None => status_error(status, retry_after, body, url),
    }
}

/// `reply` when it is 2xx, else the error its status means.
fn success(reply: Response) -> Result<Response, PluginError> {
    let status = reply.status();
    if (200..300).contains(&status) {
        return Ok(reply);
    }
    let retry_after = reply.header("retry-after");
    let url = reply.url().to_owned();
    let body = reply.bytes().unwrap_or_default();
    Err(http_error(status, retry_after.as_deref(), &body, &url))
}

/// Config `key`, trimmed, or `default` when unset or empty.
fn setting(key: &str, default: &str) -> String {
    kino_plugin_sdk::config(key)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn endpoint() -> Result<Url, PluginError> {
    Url::parse(setting("endpoint", DEFAULT_ENDPOINT).trim_end_matches('/'))
}

/// `base` with `rest` (a path, perhaps with a query) after its own path.
pub fn path(base: &Url, rest: &str) -> Url {
    base.with_path(&format!("{}{rest}", base.path.trim_end_matches('/')))
}

/// The plugin.
pub struct ElevenLabsSpeech;

impl Speech for ElevenLabsSpeech {
    fn voices() -> Result<Vec<Voice>, PluginError> {
        let list: VoiceList = success(
            Request::to(Method::Get, path(&endpoint()?, "/v1/voices"))
                .header("accept", "application/json")
                .send()?,
        )?
        .json()?;
        let voices = voices(list);
        kino_plugin_sdk::log::info(&format!("the API offers {} voices", voices.len()));
        Ok(voices)
    }

    fn synthesize(
        request: SpeechRequest,
        out: &MediaOut,
        _key: String,
    ) -> Result<SpeechProgress, PluginError> {
        // The API takes no idempotency key; a repeated call only costs characters.
        let model = setting("model", DEFAULT_MODEL);
        let synthesis = plan(
            &request,
            &setting("voice-id", DEFAULT_VOICE),
            &model,
            &setting("output-format", DEFAULT_FORMAT),
        )?;
        let bytes = success(
            Request::to(Method::Post, path(&endpoint()?, &synthesis.path))
                .json(&synthesis.body)?
                .send()?,
        )?
        .save(out, Some(synthesis.format.content_type))?;
        if bytes == 0 {
            return Err(PluginError::unavailable(format!(
                "the API answered no audio for voice {}",
                synthesis.voice
            )));
        }
        kino_plugin_sdk::log::info(&format!(
            "wrote {bytes} bytes of {} speech in voice {} with {model}",
            synthesis.format.content_type, synthesis.voice
        ));
        Ok(SpeechProgress::Done(SpeechAudio {
            sample_rate: synthesis.format.sample_rate,
        }))
    }

    fn check(ticket: String, _out: &MediaOut) -> Result<SpeechProgress, PluginError> {
        Err(PluginError::invalid_input(format!(
            "this backend speaks at once and never returns tickets: there is no job `{ticket}`"
        )))
    }

    fn create_voice(name: String, samples: Vec<MediaIn>) -> Result<Voice, PluginError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(PluginError::invalid_input("the new voice has no name"));
        }
        if name.chars().any(char::is_control) {
            return Err(PluginError::invalid_input(format!(
                "the voice name {name:?} has control characters"
            )));
        }
        if samples.is_empty() {
            return Err(PluginError::invalid_input(format!(
                "no samples to make the voice `{name}` from"
            )));
        }
        let form = samples
            .iter()
            .fold(Multipart::new().text("name", name), |form, sample| {
                form.media("files", sample)
            });
        let total: u64 = samples.iter().map(MediaIn::size).sum();
        kino_plugin_sdk::log::info(&format!(
            "cloning voice `{name}` from {} samples ({total} bytes)",
            samples.len()
        ));
        let reply: AddedVoice = success(
            Request::to(Method::Post, path(&endpoint()?, "/v1/voices/add"))
                .header("accept", "application/json")
                .multipart(form)
                .send()?,
        )?
        .json()?;
        let voice = added_voice(name, reply)?;
        kino_plugin_sdk::log::info(&format!("voice `{name}` is {}", voice.id));
        Ok(voice)
    }
}

kino_plugin_sdk::export_speech!(ElevenLabsSpeech);

#[cfg(test)]
mod tests {
    use super::*;
    use kino_plugin_sdk::RateLimit;

    fn list(json: &str) -> Vec<Voice> {
        voices(serde_json::from_str(json).expect("a valid voice list"))
    }

    fn request(text: &str, voice: &str, language: &str, rate: f32) -> SpeechRequest {
        SpeechRequest {
            text: text.to_owned(),
            voice_id: voice.to_owned(),
            language: language.to_owned(),
            rate,
        }
    }

    #[test]
    fn voices_map_languages_names_and_clones() {
        let voices = list(
            r#"{"voices":[
                {"voice_id":"v1","name":"Rachel","category":"premade",
                 "labels":{"accent":"american","language":"fr"},
                 "verified_languages":[{"language":"en","model_id":"m"},{"language":"es"},{"language":"en"}],
                 "samples":null,"settings":{"speed":1.0}},
                {"voice_id":"v2","name":"Mine","category":"cloned","labels":{"language":"pt"}},
                {"voice_id":"v3","name":" ","category":"professional","labels":null,"verified_languages":null},
                {"name":"no id","category":"cloned"},
                {"voice_id":"","name":"empty id"},
                {"voice_id":"v1","name":"Rachel again"}
            ],"has_more":false}"#,
        );
        assert_eq!(voices.len(), 3);
        assert_eq!(
            voices[0],
            Voice {
                id: "v1".into(),
                name: "Rachel".into(),
                languages: vec!["en".into(), "es".into()],
                cloned: false,
            }
        );
        assert_eq!(voices[1].languages, ["pt"]);
        assert!(voices[1].cloned);
        // A blank name falls back to the id; a professional clone is not `cloned`.
        assert_eq!(voices[2].name, "v3");
        assert!(voices[2].languages.is_empty());
        assert!(!voices[2].cloned);
        assert!(list("{}").is_empty());
    }

    #[test]
    fn an_added_voice_needs_an_id() {
        let reply: AddedVoice =
            serde_json::from_str(r#"{"voice_id":"abc","requires_verification":false}"#)
                .expect("valid");
        assert_eq!(
            added_voice("Ana", reply),
            Ok(Voice {
                id: "abc".into(),
                name: "Ana".into(),
                languages: Vec::new(),
                cloned: true,
            })
        );
        for body in [r#"{}"#, r#"{"voice_id":""}"#, r#"{"voice_id":null}"#] {
            let reply: AddedVoice = serde_json::from_str(body).expect("valid");
            assert!(matches!(
                added_voice("Ana", reply),
                Err(PluginError::Unavailable(m)) if m.contains("voice_id")
            ));
        }
    }

    #[test]
    fn formats_give_content_types_and_rates() {
        assert_eq!(
            audio_format("mp3_44100_128"),
            Ok(AudioFormat {
                content_type: "audio/mpeg",
                sample_rate: Some(44100),
            })
        );
        assert_eq!(
            audio_format("wav_22050"),
            Ok(AudioFormat {
                content_type: "audio/wav",
                sample_rate: Some(22050),
            })
        );
        assert_eq!(
            audio_format("opus_48000_64"),
            Ok(AudioFormat {
                content_type: "audio/ogg",
                sample_rate: Some(48000),
            })
        );
        assert_eq!(
            audio_format("mp3_high"),
            Ok(AudioFormat {
                content_type: "audio/mpeg",
                sample_rate: None,
            })
        );
        assert_eq!(audio_format("mp3").map(|f| f.sample_rate), Ok(None));
        for refused in ["pcm_16000", "ulaw_8000", "alaw_8000", "flac_44100", ""] {
            assert!(
                matches!(audio_format(refused), Err(PluginError::InvalidInput(_))),
                "{refused}"
            );
        }
        assert!(matches!(
            audio_format("mp3_44100&x=1"),
            Err(PluginError::InvalidInput(_))
        ));
    }

    #[test]
    fn languages_send_their_primary_subtag() {
        assert_eq!(language_code("pt-BR").as_deref(), Some("pt"));
        assert_eq!(language_code("EN").as_deref(), Some("en"));
        assert_eq!(language_code(" zh_Hant_TW ").as_deref(), Some("zh"));
        assert_eq!(language_code("fil").as_deref(), Some("fil"));
        assert_eq!(language_code(""), None);
        assert_eq!(language_code("und"), None);
        assert_eq!(language_code("english"), None);
    }

    #[test]
    fn rates_are_clamped_to_what_the_api_takes() {
        assert_eq!(speed(1.0), 1.0);
        assert_eq!(speed(1.1), 1.1);
        assert_eq!(speed(0.5), 0.7);
        assert_eq!(speed(3.0), 1.2);
        assert_eq!(speed(0.0), 1.0);
        assert_eq!(speed(-2.0), 1.0);
        assert_eq!(speed(f32::NAN), 1.0);
        assert_eq!(speed(f32::INFINITY), 1.0);
        // Sent as a short decimal, not as an f32's widening.
        assert_eq!(json!(speed(0.9)).to_string(), "0.9");
    }

    #[test]
    fn voice_ids_that_would_change_the_url_are_refused() {
        assert_eq!(check_voice_id("21m00Tcm4TlvDq8ikWAM"), Ok(()));
        for bad in [
            "", "a/b", "a?b", "a#b", "a b", "a\tb", "a%2Fb", "..", "a\nb",
        ] {
            assert!(
                matches!(check_voice_id(bad), Err(PluginError::InvalidInput(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_voice_id("../x"),
            Err(PluginError::InvalidInput(m)) if m.contains("../x")
        ));
    }

    #[test]
    fn a_synthesis_is_planned_from_the_request_and_config() {
        let s = plan(
            &request("Olá mundo", "", "pt-BR", 2.0),
            DEFAULT_VOICE,
            DEFAULT_MODEL,
            DEFAULT_FORMAT,
        )
        .expect("planned");
        assert_eq!(s.voice, DEFAULT_VOICE);
        assert_eq!(
            s.path,
            "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM?output_format=mp3_44100_128"
        );
        assert_eq!(
            s.body,
            json!({
                "text": "Olá mundo",
                "model_id": "eleven_multilingual_v2",
                "language_code": "pt",
                "voice_settings": {"speed": 1.2},
            })
        );
        assert_eq!(s.format.sample_rate, Some(44100));

        let s = plan(&request("Hi", "mine", "", 1.0), "x", "m", "wav_16000").expect("planned");
        assert_eq!(s.path, "/v1/text-to-speech/mine?output_format=wav_16000");
        assert!(s.body.get("language_code").is_none());
        assert_eq!(s.format.content_type, "audio/wav");

        assert!(matches!(
            plan(&request("  ", "v", "en", 1.0), "x", "m", DEFAULT_FORMAT),
            Err(PluginError::InvalidInput(m)) if m.contains("text")
        ));
        assert!(matches!(
            plan(&request("Hi", "a/b", "en", 1.0), "x", "m", DEFAULT_FORMAT),
            Err(PluginError::InvalidInput(m)) if m.contains("a/b")
        ));
        assert!(matches!(
            plan(&request("Hi", "", "en", 1.0), "", "m", DEFAULT_FORMAT),
            Err(PluginError::InvalidInput(m)) if m.contains("voice-id")
        ));
        assert!(matches!(
            plan(&request("Hi", "v", "en", 1.0), "x", "m", "pcm_16000"),
            Err(PluginError::InvalidInput(m)) if m.contains("pcm_16000")
        ));
    }

    #[test]
    fn urls_keep_the_endpoint_path() {
        let base = Url::parse("http://127.0.0.1:8080").expect("url");
        assert_eq!(
            path(&base, "/v1/voices").as_string(),
            "http://127.0.0.1:8080/v1/voices"
        );
        let base = Url::parse("https://proxy.example/eleven").expect("url");
        assert_eq!(
            path(&base, "/v1/voices/add").as_string(),
            "https://proxy.example/eleven/v1/voices/add"
        );
    }

    #[test]
    fn error_bodies_give_their_message() {
        let url = "https://api.elevenlabs.io/v1/text-to-speech/v";
        let e = http_error(
            401,
            None,
            br#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
            url,
        );
        assert!(matches!(
            &e,
            PluginError::InvalidInput(m) if m.ends_with("answered 401: invalid_api_key: Invalid API key")
        ));
        let e = http_error(
            429,
            Some("3"),
            br#"{"detail":{"status":"too_many_concurrent_requests","message":"Too many"}}"#,
            url,
        );
        assert!(matches!(
            &e,
            PluginError::RateLimited(RateLimit { retry_after_ms: 3000, message })
                if message.contains("too_many_concurrent_requests: Too many")
        ));
        assert!(matches!(
            http_error(503, None, br#"{"detail":"busy"}"#, url),
            PluginError::Unavailable(m) if m.ends_with("answered 503: busy")
        ));
        assert!(matches!(
            http_error(422, None, br#"{"detail":[{"loc":["body","text"],"msg":"field required"}]}"#, url),
            PluginError::InvalidInput(m) if m.ends_with("answered 422: field required")
        ));
        // Other bodies are kept as they came.
        assert!(matches!(
            http_error(502, None, b"Bad Gateway", url),
            PluginError::Unavailable(m) if m.ends_with("answered 502: Bad Gateway")
        ));
        assert_eq!(
            detail_message(br#"{"detail":{"message":"only"}}"#).as_deref(),
            Some("only")
        );
        assert_eq!(detail_message(br#"{"error":"x"}"#), None);
    }
}
