//! Ticket filters (osTicket's "ticket filters"): conditions on a new
//! ticket's sender, recipients, subject, body, headers, help topic and
//! source, and actions that route it, note it, reject it or ban its sender.
//!
//! This module is the pure part: parsing and checking what an admin typed
//! (so the admin form refuses what the engine could not run) and evaluating
//! filters, in order, over a small [`RuleInput`]. Loading filters and acting
//! on the [`Outcome`] inside a transaction is `rules_apply`'s job.
//!
//! Text comparisons are case-insensitive (Unicode lower case); regular
//! expressions are compiled case-insensitive with a size limit, so a
//! pathological pattern is refused when saved instead of eating memory at
//! intake. A condition on a field with several values (recipients, a
//! repeated header) holds when any value matches; "not equals" and "does
//! not contain" hold when no value matches.

use regex::{Regex, RegexBuilder};
use serde::Serialize;

use super::content::MailInfo;
use crate::mail::parse::Inbound;
use crate::model::{
    DepartmentId, HelpTopicId, PriorityId, SlaPlanId, Source, StaffId, Status, TeamId,
};

/// Longest value (pattern, text) accepted in a condition.
pub const MAX_VALUE_CHARS: usize = 1000;
/// Longest note an "add note" action may carry.
pub const MAX_NOTE_CHARS: usize = 10_000;
/// Compiled-program size limit for one regular expression.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// What a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    SenderAddress,
    SenderDomain,
    /// To, Cc and Delivered-To addresses of the mail.
    Recipient,
    Subject,
    Body,
    /// A named header (the name is kept on the condition).
    Header,
    /// The help topic's name.
    HelpTopic,
    /// email, web, phone or api.
    Source,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::SenderAddress,
        Field::SenderDomain,
        Field::Recipient,
        Field::Subject,
        Field::Body,
        Field::Header,
        Field::HelpTopic,
        Field::Source,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::SenderAddress => "sender_address",
            Field::SenderDomain => "sender_domain",
            Field::Recipient => "recipient",
            Field::Subject => "subject",
            Field::Body => "body",
            Field::Header => "header",
            Field::HelpTopic => "help_topic",
            Field::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    Regex,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Equals,
        Op::NotEquals,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::Regex,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "not_equals",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Regex => "regex",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }

    fn negated(self) -> bool {
        matches!(self, Op::NotEquals | Op::NotContains)
    }
}

/// One checked condition, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Condition {
    pub field: Field,
    /// The header's name for [`Field::Header`], lower case; empty otherwise.
    pub header: String,
    pub op: Op,
    /// What was typed (shown back in the admin form).
    pub value: String,
    /// Lower-cased value for the text operators.
    needle: String,
    regex: Option<Regex>,
}

impl Condition {
    /// Check and compile a condition; the error is a sentence for the form.
    pub fn parse(field: &str, header: &str, op: &str, value: &str) -> Result<Condition, String> {
        let field = Field::parse(field).ok_or_else(|| format!("unknown field {field:?}"))?;
        let op = Op::parse(op).ok_or_else(|| format!("unknown comparison {op:?}"))?;
        let header = header.trim().to_ascii_lowercase();
        if field == Field::Header {
            if header.is_empty() {
                return Err("name the header to look at".into());
            }
            if header.len() > 200 || !header.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err("a header name is letters, digits and dashes".into());
            }
        }
        let header = if field == Field::Header {
            header
        } else {
            String::new()
        };
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(format!("is longer than {MAX_VALUE_CHARS} characters"));
        }
        // Spaces around an address or a word are slips; inside a pattern
        // they may matter.
        let value = if op == Op::Regex {
            value.to_string()
        } else {
            value.trim().to_string()
        };
        if value.is_empty() && !matches!(op, Op::Equals | Op::NotEquals) {
            return Err("a value is required".into());
        }
        let regex = if op == Op::Regex {
            Some(compile(&value)?)
        } else {
            None
        };
        Ok(Condition {
            field,
            header,
            op,
            needle: value.to_lowercase(),
            value,
            regex,
        })
    }

    /// Does the condition hold for `input`?
    pub fn matches(&self, input: &RuleInput) -> bool {
        let values: Vec<&str> = match self.field {
            Field::SenderAddress => vec![&input.sender],
            Field::SenderDomain => vec![domain_of(&input.sender)],
            Field::Recipient => input.recipients.iter().map(String::as_str).collect(),
            Field::Subject => vec![&input.subject],
            Field::Body => vec![&input.body],
            Field::Header => input
                .headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(&self.header))
                .map(|(_, v)| v.as_str())
                .collect(),
            Field::HelpTopic => vec![input.help_topic.as_deref().unwrap_or("")],
            Field::Source => vec![input.source.as_str()],
        };
        let any = values.iter().any(|v| self.test(v));
        if self.op.negated() {
            !any
        } else {
            any
        }
    }

    /// The positive form of the comparison on one value.
    fn test(&self, value: &str) -> bool {
        if let Some(re) = &self.regex {
            return re.is_match(value);
        }
        let value = value.trim().to_lowercase();
        let needle = self.needle.as_str();
        match self.op {
            Op::Equals | Op::NotEquals => value == needle,
            Op::Contains | Op::NotContains => value.contains(needle),
            Op::StartsWith => value.starts_with(needle),
            Op::EndsWith => value.ends_with(needle),
            Op::Regex => false,
        }
    }
}

/// Compile a pattern case-insensitively within the size limits; the error
/// says what is wrong in a sentence.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() {
        return Err("a pattern is required".into());
    }
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => "the pattern is too complex".to_string(),
            regex::Error::Syntax(s) => {
                let first = s.lines().last().unwrap_or("").trim().to_string();
                format!("is not a valid regular expression ({first})")
            }
            other => format!("is not a valid regular expression ({other})"),
        })
}

/// What a filter does when it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Action {
    SetDepartment(DepartmentId),
    SetHelpTopic(HelpTopicId),
    SetPriority(PriorityId),
    SetSlaPlan(SlaPlanId),
    AssignStaff(StaffId),
    AssignTeam(TeamId),
    SetStatus(Status),
    AddNote(String),
    Reject,
    BanSender,
    SkipAutoResponse,
    StopProcessing,
}

/// Every action kind as stored, in the order the admin form offers them.
pub const ACTION_KINDS: [&str; 12] = [
    "set_department",
    "set_help_topic",
    "set_priority",
    "set_sla_plan",
    "assign_staff",
    "assign_team",
    "set_status",
    "add_note",
    "reject",
    "ban_sender",
    "skip_auto_response",
    "stop_processing",
];

impl Action {
    /// Check an action as stored: a kind and its value (an id, a status
    /// name, a note). Whether the id exists is checked by the caller,
    /// which has the database.
    pub fn parse(kind: &str, value: &str) -> Result<Action, String> {
        let value = value.trim();
        let id = || -> Result<i64, String> {
            match value.parse::<i64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err("choose what to set".to_string()),
            }
        };
        Ok(match kind {
            "set_department" => Action::SetDepartment(DepartmentId(id()?)),
            "set_help_topic" => Action::SetHelpTopic(HelpTopicId(id()?)),
            "set_priority" => Action::SetPriority(PriorityId(id()?)),
            "set_sla_plan" => Action::SetSlaPlan(SlaPlanId(id()?)),
            "assign_staff" => Action::AssignStaff(StaffId(id()?)),
            "assign_team" => Action::AssignTeam(TeamId(id()?)),
            "set_status" => Action::SetStatus(
                Status::parse(value).ok_or_else(|| "choose a status".to_string())?,
            ),
            "add_note" => {
                if value.is_empty() {
                    return Err("a note needs some text".into());
                }
                if value.chars().count() > MAX_NOTE_CHARS {
                    return Err(format!("is longer than {MAX_NOTE_CHARS} characters"));
                }
                Action::AddNote(value.to_string())
            }
            "reject" => Action::Reject,
            "ban_sender" => Action::BanSender,
            "skip_auto_response" => Action::SkipAutoResponse,
            "stop_processing" => Action::StopProcessing,
            other => return Err(format!("unknown action {other:?}")),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::SetDepartment(_) => "set_department",
            Action::SetHelpTopic(_) => "set_help_topic",
            Action::SetPriority(_) => "set_priority",
            Action::SetSlaPlan(_) => "set_sla_plan",
            Action::AssignStaff(_) => "assign_staff",
            Action::AssignTeam(_) => "assign_team",
            Action::SetStatus(_) => "set_status",
            Action::AddNote(_) => "add_note",
            Action::Reject => "reject",
            Action::BanSender => "ban_sender",
            Action::SkipAutoResponse => "skip_auto_response",
            Action::StopProcessing => "stop_processing",
        }
    }

    /// The value as stored beside the kind.
    pub fn value(&self) -> String {
        match self {
            Action::SetDepartment(id) => id.to_string(),
            Action::SetHelpTopic(id) => id.to_string(),
            Action::SetPriority(id) => id.to_string(),
            Action::SetSlaPlan(id) => id.to_string(),
            Action::AssignStaff(id) => id.to_string(),
            Action::AssignTeam(id) => id.to_string(),
            Action::SetStatus(s) => s.as_str().to_string(),
            Action::AddNote(text) => text.clone(),
            Action::Reject
            | Action::BanSender
            | Action::SkipAutoResponse
            | Action::StopProcessing => String::new(),
        }
    }
}

/// A filter ready to evaluate.
#[derive(Debug, Clone)]
pub struct Filter {
    pub id: i64,
    pub name: String,
    pub active: bool,
    /// All conditions must hold (else any one).
    pub match_all: bool,
    /// No later filter runs once this one matched.
    pub stop_processing: bool,
    /// Sources it applies to; empty means all.
    pub sources: Vec<Source>,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
}

impl Filter {
    /// Does the filter apply to `input`? An inactive filter, a filter for
    /// other sources and a filter without conditions never match.
    pub fn matches(&self, input: &RuleInput) -> bool {
        if !self.active || self.conditions.is_empty() {
            return false;
        }
        if !self.sources.is_empty() && !self.sources.contains(&input.source) {
            return false;
        }
        if self.match_all {
            self.conditions.iter().all(|c| c.matches(input))
        } else {
            self.conditions.iter().any(|c| c.matches(input))
        }
    }
}

/// Parse a stored source list ("email,web"); unknown names are dropped.
pub fn parse_sources(s: &str) -> Vec<Source> {
    s.split(',')
        .filter_map(|p| Source::parse(p.trim()))
        .collect()
}

/// What the filters look at: made from the new ticket and, for mail, its
/// recipients and headers.
#[derive(Debug, Clone)]
pub struct RuleInput {
    pub source: Source,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub help_topic: Option<String>,
}

impl RuleInput {
    /// The input for a new ticket; `help_topic` is its topic's name.
    pub fn new(
        source: Source,
        sender: &str,
        subject: &str,
        body: &str,
        mail: Option<&MailInfo>,
        help_topic: Option<String>,
    ) -> RuleInput {
        RuleInput {
            source,
            sender: sender.trim().to_string(),
            recipients: mail.map(|m| m.recipients.clone()).unwrap_or_default(),
            subject: subject.to_string(),
            body: body.to_string(),
            headers: mail.map(|m| m.headers.clone()).unwrap_or_default(),
            help_topic,
        }
    }

    /// The input for a parsed mail (the admin test form).
    pub fn from_inbound(inbound: &Inbound) -> RuleInput {
        RuleInput {
            source: Source::Email,
            sender: inbound.from.email.clone(),
            recipients: recipients_of(inbound),
            subject: inbound.subject.clone(),
            body: inbound.text.clone(),
            headers: inbound.headers.clone(),
            help_topic: None,
        }
    }
}

/// The addresses a mail was sent to: To, Cc and Delivered-To (the address
/// the MTA delivered it for, which names the mailbox for Bcc'd mail).
pub fn recipients_of(inbound: &Inbound) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let delivered = inbound
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("delivered-to"))
        .map(|(_, v)| v.trim().trim_matches(['<', '>']).to_string());
    let listed = inbound
        .to
        .iter()
        .chain(&inbound.cc)
        .map(|a| a.email.clone());
    for addr in listed.chain(delivered) {
        if !addr.is_empty() && !out.iter().any(|a| a.eq_ignore_ascii_case(&addr)) {
            out.push(addr);
        }
    }
    out
}

/// The part after the last '@', or "" when there is none.
pub fn domain_of(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim())
        .unwrap_or("")
}

/// One filter that matched, as the event log and the test form show it.
#[derive(Debug, Clone, Serialize)]
pub struct Matched {
    pub id: i64,
    pub name: String,
    pub actions: Vec<Action>,
}

/// What the filters decided for one ticket. Later filters override the
/// values earlier ones set (order filters, or use "stop processing", to let
/// one win); notes add up.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub matched: Vec<Matched>,
    pub department: Option<DepartmentId>,
    pub help_topic: Option<HelpTopicId>,
    pub priority: Option<PriorityId>,
    pub sla_plan: Option<SlaPlanId>,
    pub assignee: Option<StaffId>,
    pub team: Option<TeamId>,
    pub status: Option<Status>,
    /// (filter name, note text)
    pub notes: Vec<(String, String)>,
    /// The name of the filter that rejected the ticket.
    pub rejected_by: Option<String>,
    /// The name of the filter that banned the sender.
    pub banned_by: Option<String>,
    pub skip_auto_response: bool,
}

impl Outcome {
    pub fn is_empty(&self) -> bool {
        self.matched.is_empty()
    }
}

/// Evaluate `filters` in order over `input`. Evaluation stops after a
/// filter that matched and says "stop processing" (as a flag or an action),
/// and after a rejection (nothing is left to route).
pub fn evaluate(filters: &[Filter], input: &RuleInput) -> Outcome {
    let mut out = Outcome::default();
    for f in filters {
        if !f.matches(input) {
            continue;
        }
        let mut stop = f.stop_processing;
        for a in &f.actions {
            match a {
                Action::SetDepartment(id) => out.department = Some(*id),
                Action::SetHelpTopic(id) => out.help_topic = Some(*id),
                Action::SetPriority(id) => out.priority = Some(*id),
                Action::SetSlaPlan(id) => out.sla_plan = Some(*id),
                Action::AssignStaff(id) => out.assignee = Some(*id),
                Action::AssignTeam(id) => out.team = Some(*id),
                Action::SetStatus(s) => out.status = Some(*s),
                Action::AddNote(text) => out.notes.push((f.name.clone(), text.clone())),
                Action::Reject => {
                    out.rejected_by.get_or_insert_with(|| f.name.clone());
                }
                Action::BanSender => {
                    out.banned_by.get_or_insert_with(|| f.name.clone());
                }
                Action::SkipAutoResponse => out.skip_auto_response = true,
                Action::StopProcessing => stop = true,
            }
        }
        out.matched.push(Matched {
            id: f.id,
            name: f.name.clone(),
            actions: f.actions.clone(),
        });
        if stop || out.rejected_by.is_some() {
            break;
        }
    }
    out
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
