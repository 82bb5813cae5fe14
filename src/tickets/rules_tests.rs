//! Unit tests of the filter engine: every field, operator and action,
//! all/any, order and stop processing.

use super::*;

fn input() -> RuleInput {
    RuleInput {
        source: Source::Email,
        sender: "Alice@Customer.Example".into(),
        recipients: vec![
            "support@helpdesk.example".into(),
            "billing@helpdesk.example".into(),
        ],
        subject: "Invoice 2024-117 overdue".into(),
        body: "Hello,\nmy server ns1 is DOWN since Monday.\nسلام".into(),
        headers: vec![
            ("X-Priority".into(), "1 (Highest)".into()),
            ("Received".into(), "from mx1.customer.example".into()),
            ("Received".into(), "from relay.isp.example".into()),
        ],
        help_topic: Some("Billing".into()),
    }
}

fn cond(field: &str, op: &str, value: &str) -> Condition {
    Condition::parse(field, "", op, value).unwrap()
}

fn holds(field: &str, op: &str, value: &str) -> bool {
    cond(field, op, value).matches(&input())
}

fn filter(id: i64, name: &str, conditions: Vec<Condition>, actions: Vec<Action>) -> Filter {
    Filter {
        id,
        name: name.into(),
        active: true,
        match_all: true,
        stop_processing: false,
        sources: Vec::new(),
        conditions,
        actions,
    }
}

#[test]
fn sender_address_every_operator_case_insensitive() {
    assert!(holds("sender_address", "equals", "alice@customer.example"));
    assert!(!holds("sender_address", "equals", "bob@customer.example"));
    assert!(holds(
        "sender_address",
        "not_equals",
        "bob@customer.example"
    ));
    assert!(!holds(
        "sender_address",
        "not_equals",
        "ALICE@customer.example"
    ));
    assert!(holds("sender_address", "contains", "CUSTOMER"));
    assert!(!holds("sender_address", "contains", "vendor"));
    assert!(holds("sender_address", "not_contains", "vendor"));
    assert!(!holds("sender_address", "not_contains", "alice"));
    assert!(holds("sender_address", "starts_with", "alice@"));
    assert!(!holds("sender_address", "starts_with", "customer"));
    assert!(holds("sender_address", "ends_with", ".EXAMPLE"));
    assert!(!holds("sender_address", "ends_with", ".org"));
    assert!(holds(
        "sender_address",
        "regex",
        r"^[a-z]+@customer\.example$"
    ));
    assert!(!holds("sender_address", "regex", r"^bob@"));
}

#[test]
fn sender_domain_is_the_part_after_the_at() {
    assert!(holds("sender_domain", "equals", "customer.example"));
    assert!(!holds("sender_domain", "equals", "alice@customer.example"));
    assert!(holds("sender_domain", "ends_with", "example"));
    assert!(holds("sender_domain", "not_equals", "other.example"));
    assert_eq!(domain_of("no-at-sign"), "");
}

#[test]
fn recipient_matches_any_address_and_negations_need_none() {
    assert!(holds("recipient", "equals", "billing@helpdesk.example"));
    assert!(holds("recipient", "starts_with", "support@"));
    assert!(!holds("recipient", "equals", "sales@helpdesk.example"));
    // "not equals" holds only when no recipient equals the value.
    assert!(!holds(
        "recipient",
        "not_equals",
        "billing@helpdesk.example"
    ));
    assert!(holds("recipient", "not_equals", "sales@helpdesk.example"));
    assert!(!holds("recipient", "not_contains", "helpdesk"));
    // A web ticket has no recipients: positive conditions fail.
    let mut web = input();
    web.recipients.clear();
    assert!(!cond("recipient", "contains", "helpdesk").matches(&web));
    assert!(cond("recipient", "not_contains", "helpdesk").matches(&web));
}

#[test]
fn subject_and_body_match_text_including_unicode() {
    assert!(holds("subject", "contains", "invoice"));
    assert!(holds("subject", "starts_with", "INVOICE 2024"));
    assert!(holds("subject", "ends_with", "overdue"));
    assert!(holds("subject", "equals", "invoice 2024-117 OVERDUE"));
    assert!(holds("subject", "regex", r"invoice \d{4}-\d+"));
    assert!(holds("body", "contains", "is down"));
    assert!(holds("body", "contains", "سلام"));
    assert!(holds("body", "not_contains", "refund"));
    // Multi-line bodies: (?m) anchors lines.
    assert!(holds("body", "regex", r"(?m)^my server"));
    assert!(!holds("body", "regex", r"^my server"));
}

#[test]
fn named_headers_match_any_occurrence_and_missing_headers() {
    let c = Condition::parse("header", "x-priority", "starts_with", "1").unwrap();
    assert!(c.matches(&input()));
    let c = Condition::parse("header", "Received", "contains", "relay.isp").unwrap();
    assert!(c.matches(&input()), "the second Received header counts");
    let c = Condition::parse("header", "received", "not_contains", "relay.isp").unwrap();
    assert!(!c.matches(&input()));
    let c = Condition::parse("header", "List-Id", "contains", "x").unwrap();
    assert!(!c.matches(&input()), "a missing header contains nothing");
    let c = Condition::parse("header", "List-Id", "not_equals", "x").unwrap();
    assert!(c.matches(&input()));
    assert!(Condition::parse("header", "", "equals", "x").is_err());
    assert!(Condition::parse("header", "Bad:Name", "equals", "x").is_err());
}

#[test]
fn help_topic_and_source() {
    assert!(holds("help_topic", "equals", "billing"));
    assert!(!holds("help_topic", "equals", "sales"));
    let mut none = input();
    none.help_topic = None;
    assert!(cond("help_topic", "equals", "").matches(&none));
    assert!(holds("source", "equals", "email"));
    assert!(holds("source", "not_equals", "web"));
    let mut web = input();
    web.source = Source::Web;
    assert!(cond("source", "equals", "WEB").matches(&web));
}

#[test]
fn invalid_conditions_are_refused_with_a_sentence() {
    let e = Condition::parse("subject", "", "regex", "(unclosed").unwrap_err();
    assert!(e.contains("not a valid regular expression"), "{e}");
    let e = Condition::parse("subject", "", "regex", r"\w{1000}{1000}").unwrap_err();
    assert!(
        e.contains("too complex") || e.contains("not a valid"),
        "{e}"
    );
    assert!(Condition::parse("subject", "", "regex", "").is_err());
    assert!(Condition::parse("nope", "", "equals", "x").is_err());
    assert!(Condition::parse("subject", "", "like", "x").is_err());
    assert!(Condition::parse("subject", "", "contains", "  ").is_err());
    let long = "x".repeat(MAX_VALUE_CHARS + 1);
    assert!(Condition::parse("subject", "", "contains", &long).is_err());
}

#[test]
fn actions_parse_and_round_trip() {
    let cases = [
        (
            "set_department",
            "3",
            Action::SetDepartment(DepartmentId(3)),
        ),
        ("set_help_topic", "4", Action::SetHelpTopic(HelpTopicId(4))),
        ("set_priority", "2", Action::SetPriority(PriorityId(2))),
        ("set_sla_plan", "5", Action::SetSlaPlan(SlaPlanId(5))),
        ("assign_staff", "6", Action::AssignStaff(StaffId(6))),
        ("assign_team", "7", Action::AssignTeam(TeamId(7))),
        ("set_status", "closed", Action::SetStatus(Status::Closed)),
        ("add_note", " VIP ", Action::AddNote("VIP".into())),
        ("reject", "", Action::Reject),
        ("ban_sender", "", Action::BanSender),
        ("skip_auto_response", "", Action::SkipAutoResponse),
        ("stop_processing", "", Action::StopProcessing),
    ];
    assert_eq!(cases.len(), ACTION_KINDS.len());
    for (kind, value, want) in cases {
        let a = Action::parse(kind, value).unwrap();
        assert_eq!(a, want);
        assert_eq!(a.kind(), kind);
        assert_eq!(Action::parse(a.kind(), &a.value()).unwrap(), a);
    }
    assert!(Action::parse("set_department", "").is_err());
    assert!(Action::parse("set_department", "-1").is_err());
    assert!(Action::parse("set_status", "frozen").is_err());
    assert!(Action::parse("add_note", " ").is_err());
    assert!(Action::parse("explode", "").is_err());
}

#[test]
fn every_action_lands_in_the_outcome() {
    let f = filter(
        1,
        "All",
        vec![cond("subject", "contains", "invoice")],
        vec![
            Action::SetDepartment(DepartmentId(3)),
            Action::SetHelpTopic(HelpTopicId(4)),
            Action::SetPriority(PriorityId(2)),
            Action::SetSlaPlan(SlaPlanId(5)),
            Action::AssignStaff(StaffId(6)),
            Action::AssignTeam(TeamId(7)),
            Action::SetStatus(Status::Pending),
            Action::AddNote("check the invoice".into()),
            Action::BanSender,
            Action::SkipAutoResponse,
        ],
    );
    let o = evaluate(&[f], &input());
    assert_eq!(o.matched.len(), 1);
    assert_eq!(o.department, Some(DepartmentId(3)));
    assert_eq!(o.help_topic, Some(HelpTopicId(4)));
    assert_eq!(o.priority, Some(PriorityId(2)));
    assert_eq!(o.sla_plan, Some(SlaPlanId(5)));
    assert_eq!(o.assignee, Some(StaffId(6)));
    assert_eq!(o.team, Some(TeamId(7)));
    assert_eq!(o.status, Some(Status::Pending));
    assert_eq!(o.notes, vec![("All".into(), "check the invoice".into())]);
    assert_eq!(o.banned_by.as_deref(), Some("All"));
    assert!(o.skip_auto_response);
    assert!(o.rejected_by.is_none());
}

#[test]
fn match_all_and_match_any() {
    let conds = || {
        vec![
            cond("subject", "contains", "invoice"),
            cond("sender_domain", "equals", "other.example"),
        ]
    };
    let mut all = filter(1, "all", conds(), vec![Action::SkipAutoResponse]);
    assert!(!all.matches(&input()));
    all.match_all = false;
    assert!(all.matches(&input()));
    let none = filter(2, "empty", Vec::new(), vec![Action::Reject]);
    assert!(
        !none.matches(&input()),
        "a filter without conditions never matches"
    );
}

#[test]
fn inactive_filters_and_other_sources_do_not_match() {
    let mut f = filter(1, "f", vec![cond("subject", "contains", "invoice")], vec![]);
    f.active = false;
    assert!(!f.matches(&input()));
    f.active = true;
    f.sources = parse_sources("web, api");
    assert!(!f.matches(&input()));
    f.sources = parse_sources("email,bogus");
    assert_eq!(f.sources, vec![Source::Email]);
    assert!(f.matches(&input()));
}

#[test]
fn later_filters_override_and_notes_add_up() {
    let a = filter(
        1,
        "first",
        vec![cond("subject", "contains", "invoice")],
        vec![
            Action::SetDepartment(DepartmentId(2)),
            Action::AddNote("one".into()),
        ],
    );
    let b = filter(
        2,
        "second",
        vec![cond("sender_domain", "equals", "customer.example")],
        vec![
            Action::SetDepartment(DepartmentId(3)),
            Action::AddNote("two".into()),
        ],
    );
    let o = evaluate(&[a.clone(), b.clone()], &input());
    assert_eq!(o.department, Some(DepartmentId(3)));
    assert_eq!(o.notes.len(), 2);
    let names: Vec<_> = o.matched.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);
    // In the other order the other department wins.
    let o = evaluate(&[b, a], &input());
    assert_eq!(o.department, Some(DepartmentId(2)));
}

#[test]
fn stop_processing_flag_and_action_end_evaluation() {
    let mut a = filter(
        1,
        "first",
        vec![cond("subject", "contains", "invoice")],
        vec![Action::SetPriority(PriorityId(4))],
    );
    let b = filter(
        2,
        "second",
        vec![cond("subject", "contains", "invoice")],
        vec![Action::SetPriority(PriorityId(1))],
    );
    a.stop_processing = true;
    let o = evaluate(&[a.clone(), b.clone()], &input());
    assert_eq!(o.priority, Some(PriorityId(4)));
    assert_eq!(o.matched.len(), 1);

    a.stop_processing = false;
    a.actions.push(Action::StopProcessing);
    let o = evaluate(&[a.clone(), b.clone()], &input());
    assert_eq!(o.priority, Some(PriorityId(4)));
    assert_eq!(o.matched.len(), 1);

    // A filter that does not match does not stop anything.
    let mut c = filter(0, "miss", vec![cond("subject", "contains", "zzz")], vec![]);
    c.stop_processing = true;
    let o = evaluate(&[c, b], &input());
    assert_eq!(o.priority, Some(PriorityId(1)));
}

#[test]
fn reject_ends_evaluation_and_names_the_filter() {
    let r = filter(
        1,
        "Spam words",
        vec![cond("body", "contains", "down")],
        vec![Action::Reject, Action::BanSender],
    );
    let later = filter(
        2,
        "later",
        vec![cond("subject", "contains", "invoice")],
        vec![Action::SetPriority(PriorityId(4))],
    );
    let o = evaluate(&[r, later], &input());
    assert_eq!(o.rejected_by.as_deref(), Some("Spam words"));
    assert_eq!(o.banned_by.as_deref(), Some("Spam words"));
    assert_eq!(o.priority, None);
    assert_eq!(o.matched.len(), 1);
}

#[test]
fn nothing_matches_nothing_changes() {
    let f = filter(
        1,
        "f",
        vec![cond("subject", "contains", "zzz")],
        vec![Action::Reject],
    );
    let o = evaluate(&[f], &input());
    assert!(o.is_empty());
    assert!(o.rejected_by.is_none());
}
