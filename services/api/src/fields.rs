//! Typed access to request fields, lax the way agents write them: numbers
//! may arrive as strings, tag lists as comma-separated text.

use serde_json::Value;

use crate::{
    error::{ApiError, ApiResult},
    negotiate::Payload,
};

fn invalid(key: &str, what: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid request body: {key} must be {what}"))
}

impl Payload {
    fn value(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|v| !v.is_null())
    }

    /// Whether the field was sent at all (even as null).
    pub fn has(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// A text field.
    pub fn string(&self, key: &str) -> ApiResult<Option<String>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(key, "a string")),
        }
    }

    /// A text field, or the markdown body when the field is absent.
    pub fn string_or_text(&self, key: &str) -> ApiResult<Option<String>> {
        Ok(self.string(key)?.or_else(|| self.text.clone()))
    }

    /// An integer field; numeric strings are accepted.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| invalid(key, "an integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid(key, "an integer")),
            Some(_) => Err(invalid(key, "an integer")),
        }
    }

    /// A boolean field; `"true"`/`"false"` strings are accepted.
    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(invalid(key, "true or false")),
            },
            Some(_) => Err(invalid(key, "true or false")),
        }
    }

    /// A list of strings, or one comma-separated string.
    pub fn string_list(&self, key: &str) -> ApiResult<Vec<String>> {
        match self.value(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(pinchwork_common::domain::validate::split_csv(Some(s))),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(key, "a list of strings"))
                })
                .collect(),
            Some(_) => Err(invalid(key, "a list of strings")),
        }
    }
}
