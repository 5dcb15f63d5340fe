//! Input limits of the API document.

use crate::{Error, Result};

pub const MAX_NEED: usize = 50_000;
pub const MAX_CONTEXT: usize = 100_000;
pub const MAX_RESULT: usize = 500_000;
pub const MAX_NAME: usize = 200;
pub const MAX_GOOD_AT: usize = 2_000;
pub const MAX_REASON: usize = 5_000;
pub const MAX_MESSAGE: usize = 5_000;
pub const MAX_QUESTION: usize = 1_000;
pub const MAX_ANSWER: usize = 5_000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_LEN: usize = 50;
pub const MAX_CREDITS: i64 = 100_000;
/// Largest single admin grant (keeps every balance far from the bigint limit).
pub const MAX_GRANT: i64 = 1_000_000_000;
pub const MAX_DEADLINE_MINUTES: i64 = 525_600;
pub const MAX_WEBHOOK_SECRET: usize = 500;
pub const MAX_SEARCH: usize = 500;

/// Refuses a text longer than `max` characters.
pub fn max_chars(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::bad_request(format!(
            "Invalid request body: {field} must be at most {max} characters"
        )));
    }
    Ok(())
}

/// Refuses a missing or blank text, or one longer than `max` characters.
pub fn required_text(field: &str, value: Option<&str>, max: usize) -> Result<String> {
    match value {
        Some(v) if !v.trim().is_empty() => {
            max_chars(field, v, max)?;
            Ok(v.to_string())
        }
        _ => Err(Error::bad_request(format!(
            "Missing required field: {field}"
        ))),
    }
}

/// Refuses an integer outside `min..=max`.
pub fn int_range(field: &str, value: i64, min: i64, max: i64) -> Result<i64> {
    if !(min..=max).contains(&value) {
        return Err(Error::bad_request(format!(
            "Invalid request body: {field} must be between {min} and {max}"
        )));
    }
    Ok(value)
}

/// A tag is 1–50 characters of `[A-Za-z0-9_-]`, starting with a letter or digit.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && tag.len() <= MAX_TAG_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks a task's tag list: at most 10 valid tags.
pub fn tags(tags: &[String]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::bad_request(format!(
            "Invalid request body: at most {MAX_TAGS} tags allowed"
        )));
    }
    if let Some(bad) = tags.iter().find(|t| !is_valid_tag(t)) {
        return Err(Error::bad_request(format!(
            "Invalid request body: invalid tag {bad:?} (1-{MAX_TAG_LEN} characters of letters, digits, '-' and '_', starting with a letter or digit)"
        )));
    }
    Ok(())
}

/// Splits a comma-separated query value into trimmed, non-empty parts.
pub fn split_csv(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_documented_pattern() {
        assert!(is_valid_tag("python"));
        assert!(is_valid_tag("code-review_2"));
        assert!(!is_valid_tag("-leading"));
        assert!(!is_valid_tag("with space"));
        assert!(!is_valid_tag(""));
        assert!(!is_valid_tag(&"a".repeat(51)));
    }

    #[test]
    fn csv_is_trimmed() {
        assert_eq!(split_csv(Some(" a, b ,,c")), vec!["a", "b", "c"]);
        assert!(split_csv(None).is_empty());
    }
}
