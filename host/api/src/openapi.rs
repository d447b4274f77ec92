//! The OpenAPI document, generated from [`super::ROUTES`].

use serde_json::{Map, Value, json};

use super::{Access, ROUTES};

/// The path parameters of a template: `/jobs/{id}` has `id`.
fn parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect()
}

/// The OpenAPI 3.1 document of every route the router serves.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut responses = Map::new();
        for (status, description) in route.responses {
            responses.insert(status.to_string(), json!({ "description": description }));
        }
        let error = json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
        let mut add = |status: u16, description: &str| {
            let mut e = error.clone();
            e["description"] = json!(description);
            responses.entry(status.to_string()).or_insert(e);
        };
        match route.access {
            Access::Open => {}
            Access::Admin | Access::Tenant => add(401, "missing or invalid credentials"),
        }
        if route.body.is_some() {
            add(400, "the body is malformed");
        }
        let mut operation = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '.'], "_")),
            "parameters": parameters(route.path),
            "responses": responses,
        });
        match route.access {
            Access::Open => {}
            Access::Admin => operation["security"] = json!([{ "adminToken": [] }]),
            Access::Tenant => operation["security"] = json!([{ "tenantKey": [] }]),
        }
        if let Some((content_type, description)) = route.body {
            operation["requestBody"] = json!({
                "required": true,
                "description": description,
                "content": { content_type: {} },
            });
        }
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kino",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Kino's admin and tenant API. Jobs are recorded and queued; no pipeline runs them yet.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": { "type": "http", "scheme": "bearer", "description": "the operator's admin token" },
                "tenantKey": { "type": "http", "scheme": "bearer", "description": "a tenant API key (`kino_...`)" },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "string" } },
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let doc = openapi();
        for route in ROUTES {
            assert!(
                doc["paths"][route.path][route.method].is_object(),
                "{route:?} is missing"
            );
        }
        assert_eq!(
            doc["paths"]["/jobs/{id}"]["get"]["parameters"][0]["name"],
            "id"
        );
    }
}
