//! The OpenAPI document, generated from [`super::ROUTES`] and the body
//! schemas of [`schemas`].
//!
//! Each route documents its own answers; the errors a whole kind of route
//! can answer are added here, so none is forgotten: 401 on every route that
//! needs credentials, 400/415/422 on every route with a JSON body (see
//! [`crate::Json`]) and 400 on every route with query parameters (see
//! [`crate::Query`]).

mod schemas;

use serde_json::{Map, Value, json};

pub use schemas::{id, not_blank, schemas, u32};

use super::{Access, Body, Content, Location, ROUTES, Reply, Route};

/// A reference to a schema of [`schemas`].
fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The OpenAPI response object of `content`.
fn response(description: &str, content: &Content) -> Value {
    let json_body = |schema: Value| json!({ "application/json": { "schema": schema } });
    let content = match content {
        Content::Empty => return json!({ "description": description }),
        Content::Json(name) => json_body(reference(name)),
        Content::JsonList(name) => json_body(json!({ "type": "array", "items": reference(name) })),
        Content::Error => json_body(reference("Error")),
        Content::Raw(types) => types
            .iter()
            .map(|t| (t.to_string(), json!({})))
            .collect::<Map<_, _>>()
            .into(),
    };
    json!({ "description": description, "content": content })
}

/// The answers `route` can give: its own, then those of its kind.
fn replies(route: &Route) -> Vec<Reply> {
    let mut replies = route.responses.to_vec();
    let mut add = |status, description| {
        if !replies.iter().any(|r| r.status == status) {
            replies.push(Reply::error(status, description));
        }
    };
    if route.access != Access::Open {
        add(401, "missing or invalid credentials");
    }
    if let Some(Body::Json(_)) = route.body {
        add(400, "the body is not JSON");
        add(415, "the body is not `Content-Type: application/json`");
        add(422, "the body is JSON of the wrong shape");
    }
    if route.params.iter().any(|p| p.location == Location::Query) {
        add(400, "a query parameter is not of its type");
    }
    replies.sort_by_key(|r| r.status);
    replies
}

/// The OpenAPI operation object of `route`.
fn operation(route: &Route) -> Value {
    let responses: Map<_, _> = replies(route)
        .iter()
        .map(|r| (r.status.to_string(), response(r.description, &r.content)))
        .collect();
    // The path's parameters in template order, then the query's.
    let path_parameters = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let declared = route
                .params
                .iter()
                .find(|p| p.location == Location::Path && p.name == name);
            let mut parameter = json!({ "name": name, "in": "path", "required": true });
            match declared {
                Some(p) => {
                    parameter["description"] = json!(p.description);
                    parameter["schema"] = (p.schema)();
                }
                None => parameter["schema"] = json!({ "type": "string" }),
            }
            parameter
        });
    let query_parameters = route
        .params
        .iter()
        .filter(|p| p.location == Location::Query)
        .map(|p| {
            json!({ "name": p.name, "in": "query", "required": false, "description": p.description, "schema": (p.schema)() })
        });
    let mut operation = json!({
        "summary": route.summary,
        "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '.'], "_")),
        "parameters": path_parameters.chain(query_parameters).collect::<Vec<_>>(),
        "responses": responses,
    });
    match route.access {
        Access::Open => operation["security"] = json!([]),
        Access::Admin => operation["security"] = json!([{ "adminToken": [] }]),
        Access::Tenant => operation["security"] = json!([{ "tenantKey": [] }]),
    }
    match route.body {
        None => {}
        Some(Body::Json(name)) => {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": reference(name) } },
            });
        }
        Some(Body::Bytes(content_type, description)) => {
            operation["requestBody"] = json!({
                "required": true,
                "description": description,
                "content": { content_type: { "schema": { "type": "string", "format": "binary", "minLength": 1 } } },
            });
        }
    }
    operation
}

/// The OpenAPI 3.1 document of every route the router serves.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kino",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Kino's admin and tenant API. The operator (admin token) manages \
                tenants, their keys, secrets and plugin bindings, and the plugin registry; a \
                tenant (API key) uploads input files, submits jobs to pipelines, follows their \
                events, edits ad scenes and downloads outputs. Every error is \
                `{\"error\": \"...\"}`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": { "type": "http", "scheme": "bearer", "description": "the operator's admin token" },
                "tenantKey": { "type": "http", "scheme": "bearer", "description": "a tenant API key (`kino_...`)" },
            },
            "schemas": schemas(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `value`.
    fn references(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| references(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = openapi();
        let mut refs = Vec::new();
        references(&doc, &mut refs);
        assert!(refs.len() > 20, "{refs:?}");
        for r in refs {
            let name = r.strip_prefix("#/components/schemas/").expect(&r);
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} is not defined"
            );
        }
    }

    #[test]
    fn declared_parameters_are_in_the_path_or_the_query() {
        for route in ROUTES {
            for p in route.params {
                if p.location == Location::Path {
                    assert!(
                        route.path.contains(&format!("{{{}}}", p.name)),
                        "{route:?}: {}",
                        p.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_operation_documents_its_errors_and_a_success() {
        let doc = openapi();
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method];
            let statuses: Vec<&String> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .collect();
            assert!(
                statuses.iter().any(|s| s.starts_with('2')),
                "{route:?}: {statuses:?}"
            );
            if route.access != Access::Open {
                assert!(statuses.contains(&&"401".to_string()), "{route:?}");
            }
            if matches!(route.body, Some(Body::Json(_))) {
                for status in ["400", "415", "422"] {
                    assert!(
                        statuses.contains(&&status.to_string()),
                        "{route:?}: {status}"
                    );
                }
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                assert!(schema.get("$ref").is_some(), "{route:?}");
            }
        }
    }
}
