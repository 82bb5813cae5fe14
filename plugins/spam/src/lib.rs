//! Spam filter: scores inbound mail from the verdict SpamAssassin or rspamd
//! left in its headers, plus configurable rules, before a ticket is made.
//!
//! ```toml
//! [plugins.spam]
//! enabled = true
//! threshold = 5.0          # at or above: the ticket is kept, marked spam
//! reject_threshold = 15.0  # at or above: no ticket (the raw mail is kept)
//! trust_headers = true     # only if your MTA strips these headers from
//!                          # incoming mail before its own filter adds them
//! [[plugins.spam.rules]]
//! field = "subject"        # subject, body, from, sender_domain, header:NAME
//! contains = "casino"      # or regex = "(?i)v[i1]agra", or equals = "..."
//! weight = 4.0             # negative weights whitelist
//! ```
//!
//! Headers read: `X-Spam-Flag: YES` and `X-Spam: yes` (counted as at least
//! the threshold), `X-Spam-Score: 7.3`, `X-Spam-Status: Yes, score=7.3
//! required=5.0 …`, `X-Spamd-Result: default: True [12.40 / 15.00]; …`.

use oxidesk_plugin::{Factory, FilterDecision, InboundMail, Plugin, PluginConfig, PluginError};
use regex::Regex;
use serde::Deserialize;

pub const FACTORY: Factory = Factory {
    name: "spam",
    description: "Marks or rejects inbound spam from SpamAssassin/rspamd headers and rules",
    build,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "default_threshold")]
    threshold: f64,
    #[serde(default)]
    reject_threshold: Option<f64>,
    #[serde(default = "yes")]
    trust_headers: bool,
    #[serde(default)]
    rules: Vec<RuleSettings>,
}

fn default_threshold() -> f64 {
    5.0
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSettings {
    field: String,
    #[serde(default)]
    contains: Option<String>,
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    weight: f64,
}

enum Field {
    Subject,
    Body,
    From,
    SenderDomain,
    Header(String),
}

enum Matcher {
    /// Lower-cased needle, matched case-insensitively.
    Contains(String),
    Equals(String),
    Regex(Regex),
}

struct Rule {
    label: String,
    field: Field,
    matcher: Matcher,
    weight: f64,
}

pub struct SpamFilter {
    threshold: f64,
    reject_threshold: Option<f64>,
    trust_headers: bool,
    rules: Vec<Rule>,
}

fn build(config: &PluginConfig) -> Result<Box<dyn Plugin>, PluginError> {
    let settings: Settings = config.parse()?;
    Ok(Box::new(SpamFilter::new(settings)?))
}

impl SpamFilter {
    fn new(settings: Settings) -> Result<SpamFilter, PluginError> {
        if let Some(reject) = settings.reject_threshold {
            if reject < settings.threshold {
                return Err(PluginError::config(format!(
                    "reject_threshold ({reject}) is below threshold ({})",
                    settings.threshold
                )));
            }
        }
        let mut rules = Vec::new();
        for (i, r) in settings.rules.into_iter().enumerate() {
            let field = match r.field.to_ascii_lowercase().as_str() {
                "subject" => Field::Subject,
                "body" => Field::Body,
                "from" => Field::From,
                "sender_domain" => Field::SenderDomain,
                other => match other.strip_prefix("header:") {
                    Some(name) if !name.trim().is_empty() => Field::Header(name.trim().to_string()),
                    _ => {
                        return Err(PluginError::config(format!(
                            "rule {}: field {:?} is not subject, body, from, sender_domain or header:NAME",
                            i + 1,
                            r.field
                        )))
                    }
                },
            };
            let (matcher, shown) = match (r.contains, r.equals, r.regex) {
                (Some(c), None, None) => (Matcher::Contains(c.to_lowercase()), c),
                (None, Some(e), None) => (Matcher::Equals(e.to_lowercase()), e),
                (None, None, Some(re)) => {
                    let compiled = Regex::new(&re).map_err(|e| {
                        PluginError::config(format!("rule {}: bad regex {re:?}: {e}", i + 1))
                    })?;
                    (Matcher::Regex(compiled), re)
                }
                _ => {
                    return Err(PluginError::config(format!(
                        "rule {}: give exactly one of contains, equals or regex",
                        i + 1
                    )))
                }
            };
            rules.push(Rule {
                label: format!("{} ~ {:?}", r.field, shown),
                field,
                matcher,
                weight: r.weight,
            });
        }
        Ok(SpamFilter {
            threshold: settings.threshold,
            reject_threshold: settings.reject_threshold,
            trust_headers: settings.trust_headers,
            rules,
        })
    }

    /// The total score and the reasons that make it up.
    pub fn score(&self, mail: &InboundMail) -> (f64, Vec<String>) {
        let mut reasons = Vec::new();
        let mut total = 0.0;
        if self.trust_headers {
            let (score, why) = header_verdict(mail, self.threshold);
            total += score;
            reasons.extend(why);
        }
        for rule in &self.rules {
            if rule.matches(mail) {
                total += rule.weight;
                reasons.push(format!("rule {} ({:+})", rule.label, rule.weight));
            }
        }
        (total, reasons)
    }
}

impl Rule {
    fn matches(&self, mail: &InboundMail) -> bool {
        let domain;
        let values: Vec<&str> = match &self.field {
            Field::Subject => vec![&mail.subject],
            Field::Body => vec![&mail.text],
            Field::From => vec![&mail.from_email],
            Field::SenderDomain => {
                domain = mail.sender_domain().unwrap_or_default();
                vec![&domain]
            }
            Field::Header(name) => mail.headers_named(name).collect(),
        };
        values.iter().any(|v| match &self.matcher {
            Matcher::Contains(needle) => v.to_lowercase().contains(needle),
            Matcher::Equals(want) => {
                let v = v.trim().to_lowercase();
                // A domain rule also covers its subdomains.
                v == *want
                    || (matches!(self.field, Field::SenderDomain)
                        && v.ends_with(&format!(".{want}")))
            }
            Matcher::Regex(re) => re.is_match(v),
        })
    }
}

/// The score the upstream filter gave, and whether it flagged the message.
fn header_verdict(mail: &InboundMail, threshold: f64) -> (f64, Vec<String>) {
    let mut reasons = Vec::new();
    let mut best: Option<f64> = None;
    let mut flagged = false;
    let mut take = |score: Option<f64>, name: &str, reasons: &mut Vec<String>| {
        if let Some(s) = score {
            reasons.push(format!("{name} {s}"));
            best = Some(best.map_or(s, |b: f64| b.max(s)));
        }
    };
    for v in mail.headers_named("X-Spam-Score") {
        take(leading_number(v.trim()), "X-Spam-Score", &mut reasons);
    }
    for v in mail.headers_named("X-Spam-Status") {
        if v.trim_start().to_ascii_lowercase().starts_with("yes") {
            flagged = true;
        }
        let score = v
            .to_ascii_lowercase()
            .find("score=")
            .and_then(|i| leading_number(&v[i + 6..]));
        take(score, "X-Spam-Status score", &mut reasons);
    }
    for v in mail.headers_named("X-Spamd-Result") {
        let score = v.find('[').and_then(|i| leading_number(v[i + 1..].trim()));
        take(score, "X-Spamd-Result", &mut reasons);
    }
    for name in ["X-Spam-Flag", "X-Spam"] {
        if mail
            .headers_named(name)
            .any(|v| v.trim().eq_ignore_ascii_case("yes"))
        {
            flagged = true;
            reasons.push(format!("{name}: YES"));
        }
    }
    let mut score = best.unwrap_or(0.0);
    if flagged && score < threshold {
        score = threshold;
    }
    (score, reasons)
}

/// Parse a number at the start of `s` (`7.3`, `+7.3`, `-0.1`).
fn leading_number(s: &str) -> Option<f64> {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0)))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().ok().filter(|n: &f64| n.is_finite())
}

impl Plugin for SpamFilter {
    fn filter_inbound(&self, mail: &InboundMail) -> Result<FilterDecision, PluginError> {
        let (score, reasons) = self.score(mail);
        let reason = reasons.join("; ");
        if let Some(reject) = self.reject_threshold {
            if score >= reject {
                return Ok(FilterDecision::Reject {
                    reason: format!("spam score {score:.1} ≥ {reject}: {reason}"),
                });
            }
        }
        if score >= self.threshold {
            return Ok(FilterDecision::MarkSpam { score, reason });
        }
        Ok(FilterDecision::Accept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(config: serde_json::Value) -> Box<dyn Plugin> {
        match build(&PluginConfig::new(config)) {
            Ok(p) => p,
            Err(e) => panic!("build failed: {e}"),
        }
    }

    fn mail(headers: &[(&str, &str)], subject: &str) -> InboundMail {
        InboundMail {
            headers: headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            from_email: "someone@mail.spammy.example".into(),
            subject: subject.into(),
            text: "hello".into(),
            ..InboundMail::default()
        }
    }

    #[test]
    fn spam_flag_marks_spam() {
        let f = filter(serde_json::json!({}));
        let d = f
            .filter_inbound(&mail(&[("X-Spam-Flag", "YES")], "hi"))
            .unwrap();
        match d {
            FilterDecision::MarkSpam { score, reason } => {
                assert_eq!(score, 5.0);
                assert!(reason.contains("X-Spam-Flag"), "{reason}");
            }
            other => panic!("expected spam, got {other:?}"),
        }
        let clean = f.filter_inbound(&mail(&[("X-Spam-Flag", "NO")], "hi"));
        assert_eq!(clean.unwrap(), FilterDecision::Accept);
    }

    #[test]
    fn scores_from_spamassassin_and_rspamd_headers() {
        let f = filter(serde_json::json!({"threshold": 5.0, "reject_threshold": 12.0}));
        let sa = mail(
            &[("X-Spam-Status", "No, score=3.1 required=5.0 tests=BAYES_50")],
            "x",
        );
        assert_eq!(f.filter_inbound(&sa).unwrap(), FilterDecision::Accept);
        let sa_spam = mail(&[("X-Spam-Score", "+6.5")], "x");
        assert!(matches!(
            f.filter_inbound(&sa_spam).unwrap(),
            FilterDecision::MarkSpam { score, .. } if score == 6.5
        ));
        let rspamd = mail(
            &[(
                "X-Spamd-Result",
                "default: True [12.40 / 15.00]; R_SPF_FAIL(1.00)",
            )],
            "x",
        );
        assert!(matches!(
            f.filter_inbound(&rspamd).unwrap(),
            FilterDecision::Reject { .. }
        ));
    }

    #[test]
    fn rules_add_weights_and_can_whitelist() {
        let f = filter(serde_json::json!({
            "threshold": 5.0,
            "rules": [
                {"field": "subject", "contains": "CASINO", "weight": 3.0},
                {"field": "sender_domain", "equals": "spammy.example", "weight": 2.5},
                {"field": "header:X-Mailer", "regex": "(?i)^mass ?mailer", "weight": 1.0},
                {"field": "from", "equals": "boss@ours.example", "weight": -100.0}
            ]
        }));
        let m = mail(&[("X-Mailer", "MassMailer 2")], "Best Casino bonus");
        assert!(matches!(
            f.filter_inbound(&m).unwrap(),
            FilterDecision::MarkSpam { score, .. } if (score - 6.5).abs() < 1e-9
        ));
        let mut boss = mail(&[("X-Spam-Flag", "YES")], "casino night");
        boss.from_email = "boss@ours.example".into();
        assert_eq!(f.filter_inbound(&boss).unwrap(), FilterDecision::Accept);
    }

    #[test]
    fn untrusted_headers_are_ignored() {
        let f = filter(serde_json::json!({"trust_headers": false}));
        let m = mail(&[("X-Spam-Flag", "YES")], "hi");
        assert_eq!(f.filter_inbound(&m).unwrap(), FilterDecision::Accept);
    }

    #[test]
    fn bad_settings_are_sentences() {
        let err = |v| build(&PluginConfig::new(v)).err().map(|e| e.message);
        assert!(
            err(serde_json::json!({"threshold": 5.0, "reject_threshold": 2.0}))
                .unwrap()
                .contains("below")
        );
        assert!(err(
            serde_json::json!({"rules": [{"field": "subject", "regex": "(", "weight": 1.0}]})
        )
        .unwrap()
        .contains("bad regex"));
        assert!(err(
            serde_json::json!({"rules": [{"field": "date", "contains": "x", "weight": 1.0}]})
        )
        .unwrap()
        .contains("field"));
    }

    #[test]
    fn numbers_parse_leniently() {
        assert_eq!(leading_number("7.3 required"), Some(7.3));
        assert_eq!(leading_number("+1"), Some(1.0));
        assert_eq!(leading_number("-0.5/"), Some(-0.5));
        assert_eq!(leading_number("abc"), None);
    }
}
