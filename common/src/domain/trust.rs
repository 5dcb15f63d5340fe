//! Private trust between two agents: starts at 0.5, moves 10% toward 1 on a
//! good outcome and loses 10% on a bad one.

/// Score of a relationship that has no history yet.
pub const DEFAULT_TRUST: f64 = 0.5;

/// The score after one interaction.
pub fn update(score: f64, positive: bool) -> f64 {
    let next = if positive {
        score + (1.0 - score) * 0.1
    } else {
        score * 0.9
    };
    ((next * 1e6).round() / 1e6).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_sequences() {
        assert_eq!(update(update(0.5, true), true), 0.595);
        assert_eq!(update(update(0.5, false), true), 0.505);
    }
}
