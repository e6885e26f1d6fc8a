//! The incident-response practice as data: severity schemes, role sets, checklists, playbooks
//! and templates. The types and their validation live here (pure); where the files come from
//! (embedded `assets/`, then the config dir) is `config.rs`'s business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::calendar::{BusinessHours, DeadlineDef};
use super::event::EventBody;
use super::incident::{COMMANDER_ROLE, Incident, Rejection, RoleHolder};

/// One severity level of a scheme, e.g. SEV-2 or P1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityLevel {
    /// The label used on the wire and on screen, e.g. `SEV-2`.
    pub id: String,
    /// Short name, e.g. `Major`.
    pub name: String,
    #[serde(default)]
    pub definition: String,
    #[serde(default)]
    pub examples: Vec<String>,
    /// Minutes to acknowledge; absent when the target is "next business day".
    #[serde(default)]
    pub response_minutes: Option<u32>,
    /// Response target measured in business hours rather than wall-clock time.
    #[serde(default)]
    pub response_business_hours: bool,
    /// Free-text form of the response target, as the guide states it.
    #[serde(default)]
    pub response_text: String,
    /// Minutes to resolve, when the scheme sets a resolution target.
    #[serde(default)]
    pub resolution_minutes: Option<u32>,
    /// Minutes between status updates while the incident is open.
    #[serde(default)]
    pub update_every_minutes: Option<u32>,
    /// Who is notified at this level.
    #[serde(default)]
    pub notify: Vec<String>,
    /// The notification targets (names in the server's `[[serve.notify.targets]]`) that stand
    /// for `notify`: told when an incident is declared at, or raised to, this level. Names a
    /// server does not configure are skipped.
    #[serde(default)]
    pub notify_targets: Vec<String>,
    /// Whether the L4 (executive) escalation applies (customer-facing SEV-1).
    #[serde(default)]
    pub executive_escalation: bool,
    /// Suggest an incident channel at this level.
    #[serde(default)]
    pub channel: bool,
    /// The response target is the end of the next business day (see `calendar`), e.g. SEV-4, P4.
    #[serde(default)]
    pub response_next_business_day: bool,
    /// Minutes to acknowledge when the incident is declared outside business hours (P2: 4 h).
    /// `response_minutes` then applies within business hours.
    #[serde(default)]
    pub response_minutes_off_hours: Option<u32>,
    /// Outside business hours the response target is the end of the next business day (P3).
    #[serde(default)]
    pub response_next_business_day_off_hours: bool,
}

/// A step of the escalation path: from `after_minutes` of elapsed time on, `who` is engaged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    pub level: String,
    pub after_minutes: u32,
    pub who: String,
    /// Only for levels flagged `executive_escalation`.
    #[serde(default)]
    pub executive_only: bool,
    /// The notification targets (names in `[[serve.notify.targets]]`) paged when an
    /// unacknowledged incident reaches this step. Names a server does not configure are skipped.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// A severity scheme: its levels (most severe first) and what comes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scheme {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub source: String,
    /// The role set (by id) incidents of this scheme use.
    pub role_set: String,
    /// Checklists (by id) that come with every incident.
    #[serde(default)]
    pub checklists: Vec<String>,
    #[serde(default)]
    pub escalation: Vec<EscalationStep>,
    pub levels: Vec<SeverityLevel>,
    /// When "business hours" and "next business day" are (default Mon-Fri 09:00-17:00 UTC).
    #[serde(default)]
    pub business_hours: BusinessHours,
    /// Post-incident deadlines, counted from resolution (report, draft, review, action items).
    #[serde(default)]
    pub postmortem: Vec<DeadlineDef>,
}

impl Scheme {
    pub fn level(&self, id: &str) -> Option<&SeverityLevel> {
        self.levels.iter().find(|l| l.id.eq_ignore_ascii_case(id))
    }

    /// 0 for the most severe level. Unknown levels sort last.
    pub fn rank(&self, id: &str) -> usize {
        self.levels.iter().position(|l| l.id.eq_ignore_ascii_case(id)).unwrap_or(usize::MAX)
    }

    /// The canonical spelling of a level id, accepting any case.
    pub fn canonical(&self, id: &str) -> Option<&str> {
        self.level(id).map(|l| l.id.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// `commander` is reserved for the incident commander in every set.
    pub id: String,
    pub name: String,
    /// Abbreviation shown in narrow panes, e.g. `IC`.
    pub short: String,
    #[serde(default)]
    pub duties: Vec<String>,
    /// Several people may hold it at once (e.g. SMEs).
    #[serde(default)]
    pub multiple: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSet {
    pub id: String,
    pub name: String,
    pub roles: Vec<RoleDef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    pub id: String,
    pub text: String,
    /// A shell snippet from the guide that the console can copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The id of the item this one is a sub-item of (shown indented under it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// A link that goes with the item (a dashboard, a runbook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Severity levels the item applies to; empty for all (e.g. `["P1", "P2"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<String>,
}

impl ChecklistItem {
    /// Whether the item applies to an incident of `severity` (items without `levels` always do).
    pub fn applies_to(&self, severity: &str) -> bool {
        self.levels.is_empty() || self.levels.iter().any(|l| l.eq_ignore_ascii_case(severity))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub items: Vec<ChecklistItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Checklist groups, e.g. verification, mitigation, resolution. Ticks are recorded under
    /// the checklist id `<playbook>.<group>`.
    pub groups: Vec<Checklist>,
}

/// One checklist an incident works through, with the items that apply to its severity: the
/// scheme's incident checklists, then the groups of its attached playbooks (id
/// `<playbook>.<group>`, under which their ticks are recorded). The console's checklists pane
/// and `warroom show`/`check` number the items in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentChecklist<'a> {
    /// The id ticks are recorded under.
    pub id: String,
    pub checklist: &'a Checklist,
    pub items: Vec<&'a ChecklistItem>,
}

impl IncidentChecklist<'_> {
    /// How deep `item` sits under its `parent` chain (0 = top level; at most 4).
    pub fn depth(&self, item: &ChecklistItem) -> usize {
        let items = &self.checklist.items;
        let mut d = 0;
        let mut cur = item.parent.as_deref();
        while let Some(p) = cur
            && d < 4
        {
            d += 1;
            cur = items.iter().find(|i| i.id == p).and_then(|i| i.parent.as_deref());
        }
        d
    }
}

/// One role of an incident's roster: its id, names and current holders.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub short: &'a str,
    pub holders: &'a [RoleHolder],
}

/// The roster of `inc`: every role of `roles` (the scheme's role set, in order), then any other
/// role someone holds.
pub fn roster<'a>(roles: &'a [RoleDef], inc: &'a Incident) -> Vec<RosterRow<'a>> {
    let mut rows: Vec<RosterRow<'a>> = roles
        .iter()
        .map(|r| RosterRow {
            id: &r.id,
            name: &r.name,
            short: &r.short,
            holders: inc.roles.get(&r.id).map(Vec::as_slice).unwrap_or(&[]),
        })
        .collect();
    for (id, holders) in &inc.roles {
        if !rows.iter().any(|r| r.id == id) {
            rows.push(RosterRow { id, name: id, short: id, holders });
        }
    }
    rows
}

/// A whole practice: the active scheme and everything it refers to, plus templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Practice {
    pub scheme: Option<Scheme>,
    pub schemes: Vec<Scheme>,
    pub role_sets: Vec<RoleSet>,
    pub checklists: Vec<Checklist>,
    pub playbooks: Vec<Playbook>,
    /// Template name -> Markdown text (comms and post-mortem).
    pub templates: BTreeMap<String, String>,
}

impl Practice {
    /// The active scheme. A practice built by `config` always has one.
    pub fn scheme(&self) -> &Scheme {
        self.scheme.as_ref().or(self.schemes.first()).expect("a practice has at least one scheme")
    }

    pub fn role_set(&self) -> Option<&RoleSet> {
        let id = &self.scheme().role_set;
        self.role_sets.iter().find(|r| &r.id == id)
    }

    pub fn roles(&self) -> &[RoleDef] {
        self.role_set().map(|r| r.roles.as_slice()).unwrap_or(&[])
    }

    pub fn role(&self, id: &str) -> Option<&RoleDef> {
        self.roles().iter().find(|r| r.id == id)
    }

    /// The checklists every incident of the active scheme comes with, in order.
    pub fn incident_checklists(&self) -> Vec<&Checklist> {
        self.scheme()
            .checklists
            .iter()
            .filter_map(|id| self.checklists.iter().find(|c| &c.id == id))
            .collect()
    }

    pub fn playbook(&self, id: &str) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.id == id)
    }

    /// Finds a checklist by id, including playbook groups (`<playbook>.<group>`).
    pub fn checklist(&self, id: &str) -> Option<&Checklist> {
        if let Some(c) = self.checklists.iter().find(|c| c.id == id) {
            return Some(c);
        }
        let (pb, group) = id.split_once('.')?;
        self.playbook(pb)?.groups.iter().find(|g| g.id == group)
    }

    /// The checklists `inc` works through (see [`IncidentChecklist`]): the scheme's, then those
    /// of its attached playbooks, each with only the items for its severity.
    pub fn checklists_for<'a>(&'a self, inc: &Incident) -> Vec<IncidentChecklist<'a>> {
        let items = |c: &'a Checklist| c.items.iter().filter(|i| i.applies_to(&inc.severity)).collect();
        let mut out: Vec<IncidentChecklist<'a>> = self
            .incident_checklists()
            .into_iter()
            .map(|c| IncidentChecklist { id: c.id.clone(), checklist: c, items: items(c) })
            .collect();
        for pb in inc.playbooks.iter().filter_map(|id| self.playbook(id)) {
            for g in &pb.groups {
                out.push(IncidentChecklist {
                    id: format!("{}.{}", pb.id, g.id),
                    checklist: g,
                    items: items(g),
                });
            }
        }
        out
    }

    /// A role of the role set by its id, or by its short name or name in any case (`IC`, `tl`).
    pub fn find_role(&self, name: &str) -> Option<&RoleDef> {
        self.role(name).or_else(|| {
            self.roles().iter().find(|r| {
                r.id.eq_ignore_ascii_case(name)
                    || r.short.eq_ignore_ascii_case(name)
                    || r.name.eq_ignore_ascii_case(name)
            })
        })
    }

    /// Selects the active scheme by id.
    pub fn select(&mut self, scheme: &str) -> Result<(), String> {
        let s = self.schemes.iter().find(|s| s.id == scheme).cloned().ok_or_else(|| {
            let ids: Vec<_> = self.schemes.iter().map(|s| s.id.as_str()).collect();
            format!("unknown severity scheme `{scheme}` (available: {})", ids.join(", "))
        })?;
        self.scheme = Some(s);
        Ok(())
    }

    /// Checks that everything the practice refers to exists. Run once after loading.
    pub fn validate(&self) -> Result<(), String> {
        if self.schemes.is_empty() {
            return Err("no severity scheme defined".into());
        }
        for s in &self.schemes {
            if s.levels.is_empty() {
                return Err(format!("scheme `{}` has no levels", s.id));
            }
            let bh = &s.business_hours;
            if bh.start >= bh.end || bh.days.is_empty() {
                return Err(format!(
                    "scheme `{}`: business_hours need at least one day and start before end",
                    s.id
                ));
            }
            let Some(rs) = self.role_sets.iter().find(|r| r.id == s.role_set) else {
                return Err(format!(
                    "scheme `{}` names role set `{}`, which does not exist",
                    s.id, s.role_set
                ));
            };
            if !rs.roles.iter().any(|r| r.id == COMMANDER_ROLE) {
                return Err(format!("role set `{}` has no `{COMMANDER_ROLE}` role", rs.id));
            }
            for c in &s.checklists {
                if !self.checklists.iter().any(|x| &x.id == c) {
                    return Err(format!("scheme `{}` names checklist `{c}`, which does not exist", s.id));
                }
            }
        }
        Ok(())
    }

    /// Rejects events that name things this practice does not know: a severity level outside
    /// the active scheme, a role outside its role set, an unknown checklist item or playbook.
    /// Also canonicalises a severity label's case.
    pub fn check_event(&self, body: &mut EventBody) -> Result<(), Rejection> {
        let scheme = self.scheme();
        let unknown_sev = |s: &str| {
            let ids: Vec<_> = scheme.levels.iter().map(|l| l.id.as_str()).collect();
            Rejection::new(
                "unknown_severity",
                format!("unknown severity `{s}` (scheme {}: {})", scheme.id, ids.join(", ")),
            )
        };
        match body {
            EventBody::Declared { severity, .. } | EventBody::SeverityChanged { severity } => {
                let c = scheme.canonical(severity).ok_or_else(|| unknown_sev(severity))?;
                *severity = c.to_string();
            }
            EventBody::RoleAssigned { role, .. } | EventBody::RoleReleased { role, .. }
                if self.role(role).is_none() =>
            {
                let ids: Vec<_> = self.roles().iter().map(|r| r.id.as_str()).collect();
                return Err(Rejection::new(
                    "unknown_role",
                    format!("unknown role `{role}` (roles: {})", ids.join(", ")),
                ));
            }
            EventBody::ChecklistItemSet { checklist, item, .. } => {
                let Some(c) = self.checklist(checklist) else {
                    return Err(Rejection::new(
                        "unknown_checklist",
                        format!("unknown checklist `{checklist}`"),
                    ));
                };
                if !c.items.iter().any(|i| &i.id == item) {
                    return Err(Rejection::new(
                        "unknown_checklist",
                        format!("checklist `{checklist}` has no item `{item}`"),
                    ));
                }
            }
            EventBody::PlaybookAttached { playbook } if self.playbook(playbook).is_none() => {
                let ids: Vec<_> = self.playbooks.iter().map(|p| p.id.as_str()).collect();
                return Err(Rejection::new(
                    "unknown_playbook",
                    format!("unknown playbook `{playbook}` (playbooks: {})", ids.join(", ")),
                ));
            }
            _ => {}
        }
        Ok(())
    }
}
