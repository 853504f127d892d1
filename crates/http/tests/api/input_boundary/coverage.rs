//! The table against the OpenAPI document: no route or text field left out.

use super::*;
use serde_json::Value;
use std::collections::BTreeSet;

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn is_numeric_or_bool(schema: &Value) -> bool {
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    !kinds.is_empty()
        && kinds
            .iter()
            .all(|k| matches!(*k, "integer" | "number" | "boolean" | "null"))
}

/// Names of the properties that can hold text, at any depth.
fn text_properties(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    let schema = resolve(doc, schema);
    if let Some(props) = schema["properties"].as_object() {
        for (name, sub) in props {
            // A binary part (a file) is not text.
            let binary = resolve(doc, sub)["format"] == "binary";
            if !is_numeric_or_bool(resolve(doc, sub)) && !binary {
                out.insert(name.clone());
            }
            text_properties(doc, sub, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            text_properties(doc, &schema[key], out);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            text_properties(doc, sub, out);
        }
    }
}

#[test]
fn the_table_covers_every_documented_route_and_text_field() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(tmcp_http::openapi::ApiDoc::openapi()).expect("json");
    let table = routes();
    let mut problems = Vec::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let Some(route) = table
                .iter()
                .find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method))
            else {
                problems.push(format!("{method} {path}: not in the table"));
                continue;
            };
            for param in operation["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap_or_default();
                let listed = match param["in"].as_str() {
                    Some("query") => route.query.iter().any(|(q, _)| *q == name),
                    Some("path") => path_params(route.path).contains(&name),
                    _ => true,
                };
                if !listed {
                    problems.push(format!("{method} {path}: parameter {name} not probed"));
                }
            }
            let mut documented = BTreeSet::new();
            if let Some(content) = operation["requestBody"]["content"].as_object() {
                for media in content.values() {
                    text_properties(&doc, &media["schema"], &mut documented);
                }
            }
            for name in documented {
                let probed = route
                    .fields
                    .iter()
                    .any(|f| f.trim_start_matches('/').split('/').any(|s| s == name));
                if !probed {
                    problems.push(format!("{method} {path}: body field {name} not probed"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
