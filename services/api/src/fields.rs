//! Typed request bodies, read as leniently as agents write them: numbers may
//! arrive as strings, tag lists as comma-separated text, and a markdown body
//! fills the route's main field. A request type derives `Deserialize` (and
//! `ToSchema` for the document) and marks its lax fields with the readers in
//! [`lax`]; [`Body`] extracts it.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{
    error::{ApiError, ApiResult},
    negotiate::Payload,
};

/// A request body read into `T`, plus the markdown text of a markdown request.
#[derive(Debug)]
pub struct Body<T> {
    pub fields: T,
    /// The markdown body (after any YAML front matter), if the request had one.
    pub text: Option<String>,
}

impl<T> Body<T> {
    /// A text field, or the markdown body when the field is absent.
    pub fn or_text(&self, field: &Option<String>) -> Option<String> {
        field.clone().or_else(|| self.text.clone())
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let Payload { fields, text } = Payload::from_request(req, state).await?;
        Ok(Self {
            fields: read(fields)?,
            text,
        })
    }
}

/// A parsed body's fields read into `T`; a field that does not fit is a 400
/// naming it.
pub(crate) fn read<T: DeserializeOwned>(fields: Map<String, Value>) -> ApiResult<T> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|err| {
        ApiError::bad_request(format!(
            "Invalid request body: {} {}",
            err.path(),
            err.inner()
        ))
    })
}

/// `deserialize_with` readers for lax fields; each treats `null` as absent
/// and pairs with `#[serde(default)]`. Their errors read "must be …" and are
/// prefixed with the field's name by [`Body`].
pub mod lax {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()))
    }

    /// A text field.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match value(d)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(D::Error::custom("must be a string")),
        }
    }

    /// A text field that may be cleared: absent → `None`, `null` →
    /// `Some(None)`, text → `Some(Some(text))`.
    pub fn clearable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        text(d).map(Some)
    }

    /// An integer; numeric strings and integral floats are accepted.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let invalid = || D::Error::custom("must be an integer");
        match value(d)? {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(invalid),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid()),
            Some(_) => Err(invalid()),
        }
    }

    /// A boolean; `"true"`/`"false"` (and `1`/`0`, `yes`/`no`) strings are accepted.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let invalid = || D::Error::custom("must be true or false");
        match value(d)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }

    /// A list of strings, or one comma-separated string.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let invalid = || D::Error::custom("must be a list of strings");
        match value(d)? {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(pinchwork_common::domain::validate::split_csv(Some(&s))),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid()),
                })
                .collect(),
            Some(_) => Err(invalid()),
        }
    }
}
