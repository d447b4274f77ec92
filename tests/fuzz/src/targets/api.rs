//! The HTTP API's JSON request bodies (`kino-api`), and what its handlers
//! parse out of them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kino_pipeline::PipelineSpec;
use kino_pipeline::exec::check_job;
use kino_pipeline::slots::GrantSpec;
use kino_registry::{Manifest, Origin, parse_requirement};
use serde_json::Value;

use super::{JSON_TOKENS, Outcome, Target, no_seeds};

/// Every JSON body the API takes, decoded as its extractor does
/// (`kino_api::fuzzing::bodies`), then the fields through the parsers its
/// handlers call: a job's `inputs` against the named built-in pipeline
/// (`check_job`), a binding's plugin requirement, config (against a
/// manifest's schema) and grants (origins, and `GrantSpec` as the executor
/// reads stored grants back).
pub const API: Target = Target {
    name: "api",
    about: "API JSON bodies: tenants, bindings, secrets, jobs, edits; check_job, grants",
    run: api,
    dictionary: &[JSON_TOKENS, API_TOKENS],
    max_len: 16 << 10,
    generated_seeds: no_seeds,
};

const API_TOKENS: &[&[u8]] = &[
    b"\"name\"",
    b"\"plugin\"",
    b"\"config\"",
    b"\"grants\"",
    b"\"origin\"",
    b"\"secret\"",
    b"\"header\"",
    b"\"prefix\"",
    b"\"value\"",
    b"\"pipeline\"",
    b"\"inputs\"",
    b"\"sha256\"",
    b"\"dub\"",
    b"\"caption\"",
    b"\"ad-creative\"",
    b"\"video\"",
    b"\"transcript\"",
    b"\"language\"",
    b"\"brief\"",
    b"\"edits\"",
    b"\"order\"",
    b"\"scenes\"",
    b"\"kino-director-styles@^0.1\"",
    b"@^",
    b"@=1.2.3",
    b"@*",
    b"\"https://api.openai.com\"",
    b"\"https://*.example.com:8443\"",
    b"\"http://[::1]:80\"",
    b"\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
];

/// A manifest with a config schema of every type, for bindings' config.
fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        Manifest::parse(
            include_str!("../../corpus/manifest/translator-openai.toml"),
            "kino-plugin.toml",
        )
        .expect("the seed manifest is valid")
    })
}

fn api(bytes: &[u8]) -> Outcome {
    let mut parts: Vec<Outcome> = kino_api::fuzzing::bodies(bytes)
        .into_iter()
        .map(|(route, decoded)| match decoded {
            Ok(()) => Outcome::ok(route),
            Err(rejected) => {
                assert!(
                    rejected
                        .text
                        .contains(rejected.cause.split(" at line ").next().unwrap_or("")),
                    "property: the API's answer says what serde_json says"
                );
                Outcome::err(format!("{} {}", rejected.status, rejected.cause))
            }
        })
        .collect();
    if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(bytes) {
        if let Some(inputs) = body.get("inputs") {
            let name = body
                .get("pipeline")
                .and_then(Value::as_str)
                .unwrap_or("dub");
            if let Ok(spec) = PipelineSpec::built_in(name) {
                parts.push(check_job(&spec, inputs).map(|_| ()).into());
            }
        }
        if let Some(plugin) = body.get("plugin").and_then(Value::as_str) {
            parts.push(parse_requirement(plugin).map(|_| ()).into());
        }
        if let Some(Value::Object(config)) = body.get("config") {
            // The handler takes strings, numbers and booleans, as text.
            let given: BTreeMap<String, String> = config
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Number(_) | Value::Bool(_) => Some((k.clone(), v.to_string())),
                    _ => None,
                })
                .collect();
            parts.push(manifest().validate_config(&given).map(|_| ()).into());
        }
        if let Some(Value::Array(grants)) = body.get("grants") {
            for grant in grants {
                let origin = match grant {
                    Value::String(text) => Some(text.as_str()),
                    Value::Object(o) => o.get("origin").and_then(Value::as_str),
                    _ => None,
                };
                if let Some(origin) = origin {
                    parts.push(
                        origin
                            .parse::<Origin>()
                            .map(|o| {
                                // Shown and matched as the handler does.
                                let _ = (
                                    o.to_string(),
                                    o.matches(o.scheme().as_str(), o.host(), o.port()),
                                );
                            })
                            .into(),
                    );
                }
                let stored = serde_json::from_value::<GrantSpec>(grant.clone());
                if let Ok(spec) = &stored {
                    // Stored as JSON, read back by the executor.
                    let json = serde_json::to_value(spec).expect("grants serialise");
                    let back: GrantSpec =
                        serde_json::from_value(json).expect("property: a stored grant reads back");
                    assert_eq!(&back, spec, "property: a stored grant reads back the same");
                }
                parts.push(stored.map(|_| ()).into());
            }
        }
    }
    Outcome::all(parts)
}
