//! Request parsing with FastAPI/pydantic-shaped 422 errors.

use std::collections::HashMap;

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::errors::{validation, verr};

/// The four roles `/user/new` accepts.
pub(crate) const USER_ROLES: [&str; 4] = [
    "proxy_admin",
    "proxy_admin_viewer",
    "internal_user",
    "internal_user_viewer",
];

/// A JSON object body plus the validation errors found so far.
pub(crate) struct Body {
    pub map: Map<String, Value>,
    pub errors: Vec<Value>,
}

impl Body {
    /// Parse a JSON object body; malformed JSON or a non-object gives a 422 response.
    pub fn parse(bytes: &[u8]) -> Result<Body, Response> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(validation(vec![verr(
                "missing",
                json!(["body"]),
                "Field required",
                Value::Null,
                None,
            )]));
        }
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                let pos = e.column().saturating_sub(1);
                return Err(validation(vec![verr(
                    "json_invalid",
                    json!(["body", pos]),
                    "JSON decode error",
                    json!({}),
                    Some(json!({"error": "Expecting value"})),
                )]));
            }
        };
        match value {
            Value::Object(map) => Ok(Body {
                map,
                errors: Vec::new(),
            }),
            other => Err(validation(vec![verr(
                "model_attributes_type",
                json!(["body"]),
                "Input should be a valid dictionary or object to extract fields from",
                other,
                None,
            )])),
        }
    }

    /// The raw value of a field, treating JSON null as absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// True when the field was sent (even as null).
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    fn push(&mut self, typ: &str, loc: Value, msg: &str, input: Value) {
        self.errors.push(verr(typ, loc, msg, input, None));
    }

    /// An optional string field.
    pub fn opt_str(&mut self, name: &str) -> Option<String> {
        match self.get(name).cloned() {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                self.push(
                    "string_type",
                    json!(["body", name]),
                    "Input should be a valid string",
                    other,
                );
                None
            }
        }
    }

    /// A required string field.
    pub fn req_str(&mut self, name: &str) -> Option<String> {
        if !self.has(name) {
            self.push(
                "missing",
                json!(["body", name]),
                "Field required",
                Value::Null,
            );
            return None;
        }
        self.opt_str(name)
    }

    /// An optional boolean field.
    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        match self.get(name).cloned() {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(other) => {
                self.push(
                    "bool_type",
                    json!(["body", name]),
                    "Input should be a valid boolean",
                    other,
                );
                None
            }
        }
    }

    /// An optional number field (kept as JSON).
    pub fn opt_number(&mut self, name: &str) -> Value {
        match self.get(name).cloned() {
            None => Value::Null,
            Some(v @ Value::Number(_)) => v,
            Some(other) => {
                self.push(
                    "float_type",
                    json!(["body", name]),
                    "Input should be a valid number",
                    other,
                );
                Value::Null
            }
        }
    }

    /// An optional list field.
    pub fn opt_list(&mut self, name: &str) -> Option<Vec<Value>> {
        match self.get(name).cloned() {
            None => None,
            Some(Value::Array(a)) => Some(a),
            Some(other) => {
                self.push(
                    "list_type",
                    json!(["body", name]),
                    "Input should be a valid list",
                    other,
                );
                None
            }
        }
    }

    /// An optional object field.
    pub fn opt_object(&mut self, name: &str) -> Option<Value> {
        match self.get(name).cloned() {
            None => None,
            Some(v @ Value::Object(_)) => Some(v),
            Some(other) => {
                self.push(
                    "dict_type",
                    json!(["body", name]),
                    "Input should be a valid dictionary",
                    other,
                );
                None
            }
        }
    }

    /// An optional `user_role` (one of [`USER_ROLES`]).
    pub fn opt_role(&mut self, name: &str) -> Option<String> {
        let raw = self.get(name).cloned()?;
        match raw.as_str() {
            Some(r) if USER_ROLES.contains(&r) => Some(r.to_string()),
            _ => {
                let expected = "'proxy_admin', 'proxy_admin_viewer', 'internal_user' or 'internal_user_viewer'";
                self.errors.push(verr(
                    "enum",
                    json!(["body", name]),
                    &format!("Input should be {expected}"),
                    raw,
                    Some(json!({ "expected": expected })),
                ));
                None
            }
        }
    }

    /// Push a custom error.
    pub fn error(&mut self, err: Value) {
        self.errors.push(err);
    }

    /// 422 when any error was collected.
    pub fn finish(&self) -> Result<(), Response> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(validation(self.errors.clone()))
        }
    }
}

/// Parse an integer query parameter with FastAPI's bounds checks.
pub(crate) fn query_int(
    q: &HashMap<String, String>,
    name: &str,
    default: i64,
    min: i64,
    max: Option<i64>,
    errors: &mut Vec<Value>,
) -> i64 {
    let Some(raw) = q.get(name) else {
        return default;
    };
    let Ok(n) = raw.trim().parse::<i64>() else {
        errors.push(verr(
            "int_parsing",
            json!(["query", name]),
            "Input should be a valid integer, unable to parse string as an integer",
            json!(raw),
            None,
        ));
        return default;
    };
    if n < min {
        errors.push(verr(
            "greater_than_equal",
            json!(["query", name]),
            &format!("Input should be greater than or equal to {min}"),
            json!(raw),
            Some(json!({ "ge": min })),
        ));
        return default;
    }
    if let Some(max) = max
        && n > max
    {
        errors.push(verr(
            "less_than_equal",
            json!(["query", name]),
            &format!("Input should be less than or equal to {max}"),
            json!(raw),
            Some(json!({ "le": max })),
        ));
        return default;
    }
    n
}

/// A required query parameter, or a 422 `missing` error.
pub(crate) fn query_required(q: &HashMap<String, String>, name: &str) -> Result<String, Response> {
    q.get(name).cloned().ok_or_else(|| {
        validation(vec![verr(
            "missing",
            json!(["query", name]),
            "Field required",
            Value::Null,
            None,
        )])
    })
}
