//! Where an incident stands (`Status`) and how urgent an action item is (`Priority`): the small
//! closed vocabularies that events carry and the incident holds. A leaf: events and the
//! incident both use it. Their names are on the wire, in the database and in exports: serde
//! and strum spell them the same way (snake_case), and the tests below hold them together.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumCount, EnumString, IntoStaticStr, VariantArray};
use utoipa::ToSchema;

/// Parsing ignores ASCII case (`Resolved` is `resolved`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    Default,
    Display,
    EnumString,
    IntoStaticStr,
    VariantArray,
    EnumCount,
)]
#[serde(rename_all = "snake_case")]
#[strum(
    serialize_all = "snake_case",
    ascii_case_insensitive,
    parse_err_ty = String,
    parse_err_fn = unknown_status
)]
pub enum Status {
    /// Declared, nobody has acknowledged yet.
    #[default]
    Declared,
    Acknowledged,
    Investigating,
    /// Cause identified, fix under way.
    Identified,
    /// Impact stopped; fix not final.
    Mitigated,
    Resolved,
    /// Post-incident work done; the incident is archived.
    Closed,
}

impl Status {
    /// Every status, in order (strum's `VARIANTS` as an array, to iterate by value).
    pub const ALL: [Status; Status::COUNT] = *Status::VARIANTS.first_chunk().expect("COUNT variants");

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Still burning: not resolved and not closed.
    pub fn is_open(self) -> bool {
        self < Status::Resolved
    }
}

fn unknown_status(s: &str) -> String {
    let names: Vec<_> = Status::ALL.iter().map(|k| k.as_str()).collect();
    format!("unknown status `{s}` (expected one of: {})", names.join(", "))
}

/// An action item's priority. Parsing ignores ASCII case and takes the short forms `h`, `med`,
/// `m` and `l`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    Default,
    Display,
    EnumString,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(ascii_case_insensitive, parse_err_ty = String, parse_err_fn = unknown_priority)]
pub enum Priority {
    #[strum(to_string = "high", serialize = "h")]
    High,
    #[default]
    #[strum(to_string = "medium", serialize = "med", serialize = "m")]
    Medium,
    #[strum(to_string = "low", serialize = "l")]
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

fn unknown_priority(s: &str) -> String {
    format!("unknown priority `{s}` (expected high, medium or low)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_the_wire_names() {
        let names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            ["declared", "acknowledged", "investigating", "identified", "mitigated", "resolved", "closed"]
        );
        for s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
            assert_eq!(s.as_str().to_ascii_uppercase().parse::<Status>(), Ok(s));
        }
    }

    #[test]
    fn an_unknown_status_lists_the_known_ones() {
        assert_eq!(
            "done".parse::<Status>(),
            Err("unknown status `done` (expected one of: declared, acknowledged, investigating, \
                 identified, mitigated, resolved, closed)"
                .to_string())
        );
    }

    #[test]
    fn priorities_parse_short_forms_in_any_case() {
        for p in [Priority::High, Priority::Medium, Priority::Low] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
            assert_eq!(p.to_string(), p.as_str());
        }
        let parsed: Vec<_> =
            ["high", "H", "Medium", "med", "M", "low", "L"].iter().map(|s| s.parse::<Priority>()).collect();
        use Priority::*;
        assert_eq!(parsed, [Ok(High), Ok(High), Ok(Medium), Ok(Medium), Ok(Medium), Ok(Low), Ok(Low)]);
        assert_eq!(
            "urgent".parse::<Priority>(),
            Err("unknown priority `urgent` (expected high, medium or low)".to_string())
        );
    }
}
