//! The JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of the API's bodies,
//! with an example each.
//!
//! Written by hand next to the types they describe: a request schema is as
//! strict as the type's `Deserialize` (unknown fields refused, integer
//! ranges), a response schema names every field the type serialises. The
//! tests below parse each request example with the real type; schemathesis
//! (`make test`) checks every answer of a running server against these.

use serde_json::{Value, json};

/// An identifier of the store: 32 lowercase hex digits.
pub fn id() -> Value {
    json!({ "type": "string", "pattern": "^[0-9a-f]{32}$" })
}

/// Milliseconds since the Unix epoch.
fn millis() -> Value {
    json!({ "type": "integer", "description": "ms since the Unix epoch" })
}

/// An unsigned 32-bit integer.
pub fn u32() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": 4_294_967_295u32 })
}

/// Text that is not blank: it holds a character that is not whitespace
/// (Unicode `White_Space`, as Rust's `char::is_whitespace` and `str::trim`
/// read it; spelled out, since regex engines differ on `\s`).
pub fn not_blank() -> Value {
    json!({
        "type": "string",
        "pattern": "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
    })
}

/// A plugin and which of its versions: `name`, `name@REQUIREMENT`.
fn plugin_requirement() -> Value {
    // A wildcard only ends a bare version (`1.*`), never follows an operator.
    let n = "(0|[1-9][0-9]{0,8})";
    let comparator =
        format!(r"((=|>=|<=|>|<|~|\^){n}(\.{n}(\.{n})?)?|{n}(\.(\*|{n}(\.(\*|{n}))?))?)");
    json!({
        "type": "string",
        "pattern": format!(r"^[a-z](-?[a-z0-9]){{1,31}}(@(\*|{comparator}(, ?{comparator})*))?$"),
        "description": "`name`, or `name@REQUIREMENT` (a semver requirement: `^1.2`, `=1.2.3`, `>=1, <2`)",
    })
}

/// A SHA-256, hex.
fn sha256() -> Value {
    json!({ "type": "string", "pattern": "^[0-9a-f]{64}$" })
}

/// Every schema of the document, by name.
pub fn schemas() -> Value {
    json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": { "error": { "type": "string", "description": "what was wrong, in words" } },
            "examples": [{ "error": "tenant 0123456789abcdef0123456789abcdef not found" }],
        },
        "NewTenant": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": false,
            "properties": { "name": { "allOf": [not_blank()], "description": "unique among tenants; not blank" } },
            "examples": [{ "name": "acme" }],
        },
        "Tenant": {
            "type": "object",
            "required": ["id", "name"],
            "properties": { "id": id(), "name": { "type": "string" } },
            "examples": [{ "id": "5d41402abc4b2a76b9719d911017c592", "name": "acme" }],
        },
        "TenantSummary": {
            "type": "object",
            "required": ["id", "name", "created_at", "bindings", "secrets", "live_keys"],
            "properties": {
                "id": id(),
                "name": { "type": "string" },
                "created_at": millis(),
                "bindings": { "type": "array", "items": { "$ref": "#/components/schemas/Binding" } },
                "secrets": { "type": "array", "items": { "type": "string" }, "description": "names only: values are never shown" },
                "live_keys": { "type": "integer", "minimum": 0 },
            },
        },
        "IssuedKey": {
            "type": "object",
            "required": ["id", "key"],
            "properties": {
                "id": id(),
                "key": { "type": "string", "description": "the plaintext key, shown only here" },
            },
            "examples": [{ "id": "7b52009b64fd0a2a49e6d8a939753077", "key": "kino_3q2VpX..." }],
        },
        "BindingRequest": {
            "type": "object",
            "required": ["plugin"],
            "additionalProperties": false,
            "properties": {
                "plugin": plugin_requirement(),
                "config": {
                    "type": "object",
                    "description": "the plugin's config, checked against its manifest's schema",
                    "additionalProperties": { "type": ["string", "number", "boolean"] },
                },
                "grants": {
                    "type": "array",
                    "description": "outbound hosts the plugin requests and the operator grants",
                    "items": {
                        "oneOf": [
                            { "type": "string", "description": "an origin: `https://api.example.com`" },
                            {
                                "type": "object",
                                "required": ["origin", "secret"],
                                "additionalProperties": false,
                                "description": "an origin whose requests carry a tenant secret",
                                "properties": {
                                    "origin": { "type": "string" },
                                    "secret": { "type": "string", "description": "the tenant secret's name" },
                                    "header": { "type": ["string", "null"], "description": "default `Authorization`" },
                                    "prefix": { "type": ["string", "null"], "description": "default `Bearer `" },
                                },
                            },
                        ],
                    },
                },
            },
            "examples": [{
                "plugin": "translator-openai@^0.1",
                "config": { "model": "gpt-4o-mini" },
                "grants": [{ "origin": "https://api.openai.com", "secret": "openai-key" }],
            }],
        },
        "Binding": {
            "type": "object",
            "required": ["tenant_id", "slot", "plugin_name", "requirement", "config", "grants", "updated_at"],
            "properties": {
                "tenant_id": id(),
                "slot": { "type": "string" },
                "plugin_name": { "type": "string" },
                "requirement": { "type": "string", "description": "a semver requirement" },
                "config": { "type": "object", "additionalProperties": { "type": "string" } },
                "grants": { "type": "array" },
                "updated_at": millis(),
            },
        },
        "SecretRequest": {
            "type": "object",
            "required": ["value"],
            "additionalProperties": false,
            "properties": { "value": { "type": "string" } },
            "examples": [{ "value": "sk-..." }],
        },
        "Quota": {
            "type": "object",
            "required": ["node_quota"],
            "additionalProperties": false,
            "properties": {
                "node_quota": {
                    "type": ["integer", "null"], "minimum": 0, "maximum": 4294967295u64,
                    "description": "the most of the tenant's nodes workers run at once; null: no limit",
                },
            },
            "examples": [{ "node_quota": 8 }],
        },
        "InstalledVersion": {
            "type": "object",
            "required": ["name", "version", "world", "component", "manifest", "assets",
                         "package_digest", "signer", "installed_at", "yanked", "enabled"],
            "properties": {
                "name": { "type": "string" },
                "version": { "type": "string", "description": "semver" },
                "world": { "type": "string", "description": "`kino:stage/WORLD@VERSION`" },
                "component": sha256(),
                "manifest": sha256(),
                "assets": { "type": "object", "additionalProperties": sha256() },
                "package_digest": sha256(),
                "signer": { "type": ["string", "null"] },
                "installed_at": { "type": "integer", "minimum": 0, "description": "seconds since the Unix epoch" },
                "yanked": { "type": "boolean" },
                "enabled": { "type": "boolean" },
            },
        },
        "ApiKey": {
            "type": "object",
            "required": ["id", "tenant_id", "prefix", "created_at", "revoked_at"],
            "properties": {
                "id": id(),
                "tenant_id": id(),
                "prefix": { "type": "string", "description": "the key's first characters, for display" },
                "created_at": millis(),
                "revoked_at": { "oneOf": [millis(), { "type": "null" }] },
            },
        },
        "PluginManifest": {
            "type": "object",
            "required": ["name", "version", "world", "description", "outbound_hosts", "config"],
            "properties": {
                "name": { "type": "string" },
                "version": { "type": "string", "description": "semver" },
                "world": { "type": "string", "description": "`kino:stage/WORLD@VERSION`" },
                "description": { "type": "string" },
                "outbound_hosts": { "type": "array", "items": { "type": "string" }, "description": "origins the plugin requests; a binding grants them" },
                "config": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["key", "type", "default", "description", "required", "values"],
                        "properties": {
                            "key": { "type": "string" },
                            "type": { "enum": ["string", "integer", "number", "boolean"] },
                            "default": { "type": ["string", "null"] },
                            "description": { "type": "string" },
                            "required": { "type": "boolean" },
                            "values": { "type": "array", "items": { "type": "string" }, "description": "the values a string may take; empty: any" },
                        },
                    },
                },
            },
        },
        "YankedVersion": {
            "allOf": [
                { "$ref": "#/components/schemas/InstalledVersion" },
                {
                    "type": "object",
                    "required": ["still_bound"],
                    "properties": {
                        "still_bound": {
                            "type": "array",
                            "description": "bindings that keep this version until they are rebound",
                            "items": {
                                "type": "object",
                                "required": ["tenant", "slot", "requirement"],
                                "properties": {
                                    "tenant": id(),
                                    "slot": { "type": "string" },
                                    "requirement": { "type": "string" },
                                },
                            },
                        },
                    },
                },
            ],
        },
        "Pipeline": {
            "type": "object",
            "required": ["name", "source", "sha256", "inputs", "outputs", "slots", "native_kernels"],
            "properties": {
                "name": { "type": "string" },
                "description": { "type": ["string", "null"] },
                "source": { "enum": ["built-in", "file"] },
                "sha256": sha256(),
                "inputs": {
                    "type": "object",
                    "description": "what a job gives, by name",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["kind", "optional", "default", "description"],
                        "properties": {
                            "kind": { "enum": ["file", "text"] },
                            "optional": { "type": "boolean" },
                            "default": { "type": ["string", "null"] },
                            "description": { "type": ["string", "null"] },
                        },
                    },
                },
                "outputs": { "type": "array", "items": { "type": "string" } },
                "slots": { "type": "object", "additionalProperties": { "type": "string" }, "description": "slot → world" },
                "native_kernels": { "type": "array", "items": { "type": "string" } },
            },
        },
        "Pipelines": {
            "type": "object",
            "required": ["pipelines"],
            "properties": {
                "pipelines": { "type": "array", "items": { "$ref": "#/components/schemas/Pipeline" } },
            },
        },
        "AdminPipelines": {
            "type": "object",
            "required": ["pipelines", "errors"],
            "properties": {
                "pipelines": { "type": "array", "items": { "$ref": "#/components/schemas/Pipeline" } },
                "errors": { "type": "array", "items": { "type": "string" }, "description": "`file:line:column: what is wrong`" },
            },
        },
        "Uploaded": {
            "type": "object",
            "required": ["sha256", "size"],
            "properties": { "sha256": sha256(), "size": { "type": "integer", "minimum": 0 } },
            "examples": [{ "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 1048576 }],
        },
        "NewVoice": {
            "type": "object",
            "required": ["name", "samples"],
            "additionalProperties": false,
            "properties": {
                "name": { "allOf": [not_blank()], "description": "the tenant's name for it; unique among its voices" },
                "samples": {
                    "type": "array", "minItems": 1, "maxItems": 25, "items": sha256(),
                    "description": "recordings of the speaker, as the sha256 of `POST /inputs` uploads",
                },
            },
            "examples": [{ "name": "ana", "samples": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"] }],
        },
        "Voice": {
            "type": "object",
            "required": ["name", "plugin", "voice_id", "created_at"],
            "properties": {
                "name": { "type": "string" },
                "plugin": { "type": "string", "description": "the speech plugin that made it" },
                "voice_id": { "type": "string", "description": "the backend's id for it" },
                "created_at": { "type": "integer", "description": "ms since the Unix epoch" },
            },
            "examples": [{ "name": "ana", "plugin": "kino-speech-elevenlabs", "voice_id": "21m00Tcm4TlvDq8ikWAM", "created_at": 1764547200000u64 }],
        },
        "NewJob": {
            "type": "object",
            "required": ["pipeline"],
            "additionalProperties": false,
            "properties": {
                "pipeline": { "type": "string", "description": "a pipeline of `GET /pipelines`" },
                "priority": {
                    "type": "integer", "minimum": -1000, "maximum": 1000,
                    "description": "among this tenant's jobs, higher runs first (default 0)",
                },
                "inputs": {
                    "type": "object",
                    "description": "by the pipeline's input names: a file as `{sha256, name}` of an upload, text as a string",
                    "additionalProperties": {
                        "oneOf": [
                            { "type": "string" },
                            {
                                "type": "object",
                                "required": ["sha256"],
                                "properties": { "sha256": sha256(), "name": { "type": "string" } },
                            },
                        ],
                    },
                },
            },
            "examples": [{
                "pipeline": "caption",
                "inputs": {
                    "video": { "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "name": "talk.mp4" },
                },
            }],
        },
        "Job": {
            "type": "object",
            "required": ["id", "tenant_id", "pipeline", "inputs", "state", "error", "created_at", "updated_at"],
            "properties": {
                "id": id(),
                "tenant_id": id(),
                "pipeline": { "type": "string" },
                "pipeline_sha256": sha256(),
                "priority": { "type": "integer", "description": "among its tenant's jobs, higher runs first" },
                "inputs": { "type": "object" },
                "state": { "enum": ["pending", "running", "completed", "failed"] },
                "error": { "type": ["string", "null"], "description": "why it failed, in words" },
                "created_at": millis(),
                "updated_at": millis(),
            },
        },
        "ScenePlan": {
            "type": "object",
            "required": ["music", "total_ms", "shots", "lines", "edits"],
            "properties": {
                "music": { "type": "string" },
                "total_ms": u32(),
                "shots": { "type": "array", "items": { "type": "object" }, "description": "each scene's id, direction, text and timing, in playing order" },
                "lines": { "type": "array", "items": { "type": "object" }, "description": "each scene's narration, in the same order" },
                "edits": { "$ref": "#/components/schemas/Edits" },
            },
        },
        "Edits": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "order": { "type": ["array", "null"], "items": u32(), "description": "the playing order, as scene ids; every scene once" },
                "scenes": {
                    "type": "object",
                    "description": "changes by scene id",
                    "propertyNames": { "pattern": "^(0|[1-9][0-9]{0,8})$" },
                    "additionalProperties": { "$ref": "#/components/schemas/SceneEdit" },
                },
            },
            "examples": [{ "order": [2, 0, 1], "scenes": { "1": { "narration": "Now in green.", "trim": [500, 3000] } } }],
        },
        "SceneEdit": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "visual": { "type": ["string", "null"], "description": "what the viewer sees" },
                "narration": { "type": ["string", "null"] },
                "on-screen-text": { "type": ["string", "null"] },
                "style": { "type": ["string", "null"], "description": "a director style" },
                "trim": {
                    "type": ["array", "null"],
                    "prefixItems": [u32(), u32()],
                    "minItems": 2,
                    "maxItems": 2,
                    "description": "in and out points within the written scene, ms",
                },
                "take": { "oneOf": [u32(), { "type": "null" }], "description": "bump to regenerate" },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::admin::{BindingRequest, NewTenant, SecretRequest};
    use crate::tenant::NewJob;
    use kino_pipeline::Edits;

    fn example_parses<T: DeserializeOwned + std::fmt::Debug>(name: &str) {
        let schemas = schemas();
        let examples = schemas[name]["examples"].as_array().expect(name);
        assert!(!examples.is_empty(), "{name}");
        for example in examples {
            let parsed = serde_json::from_value::<T>(example.clone());
            assert!(parsed.is_ok(), "{name}: {example} {parsed:?}");
        }
    }

    #[test]
    fn request_examples_parse_as_the_handlers_read_them() {
        example_parses::<NewTenant>("NewTenant");
        example_parses::<BindingRequest>("BindingRequest");
        example_parses::<SecretRequest>("SecretRequest");
        example_parses::<crate::admin::Quota>("Quota");
        example_parses::<NewJob>("NewJob");
        example_parses::<crate::voices::NewVoice>("NewVoice");
        example_parses::<Edits>("Edits");
    }

    #[test]
    fn requirements_the_pattern_allows_parse() {
        // Found by schemathesis: `1.*.3` matched an earlier pattern but is no
        // requirement. Each shape the pattern allows, parsed by the registry.
        for text in [
            "ab",
            "a1@*",
            "ab@0",
            "ab@1.*",
            "ab@1.2.*",
            "ab@=1.2.3",
            "ab@^0.1",
            "ab@~1",
            "ab@>=1, <2",
            "ab@>1.2,<=3",
            "a-b-c@<0.70073484",
        ] {
            assert!(kino_registry::parse_requirement(text).is_ok(), "{text}");
        }
        let pattern = plugin_requirement()["pattern"]
            .as_str()
            .expect("a pattern")
            .to_owned();
        assert!(
            pattern.starts_with("^[a-z]") && pattern.ends_with(")?$"),
            "{pattern}"
        );
    }

    #[test]
    fn request_schemas_refuse_unknown_fields_as_their_types_do() {
        let schemas = schemas();
        for name in [
            "NewTenant",
            "BindingRequest",
            "SecretRequest",
            "NewJob",
            "Edits",
            "NewVoice",
        ] {
            assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
        }
        let unknown = json!({ "name": "acme", "colour": "red" });
        assert!(serde_json::from_value::<NewTenant>(unknown).is_err());
    }
}
