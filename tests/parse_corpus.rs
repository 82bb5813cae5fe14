//! The inbound decoder against the shared corpus of real-world mail.

mod common;

use common::zammad;

#[test]
fn every_zammad_expectation_loads() {
    let pairs = zammad::pairs();
    if pairs.is_empty() {
        return;
    }
    assert_eq!(pairs.len(), 60, "the corpus has 60 Zammad pairs");
    for p in &pairs {
        assert!(p.box_path.is_file(), "{} has no .box", p.name);
        assert!(p.subject.is_some(), "{} has no subject", p.name);
    }
    let m079 = pairs.iter().find(|p| p.name == "mail079").expect("mail079");
    let atts = m079.attachments.as_ref().expect("mail079 attachments");
    assert_eq!(atts.len(), 2);
    assert!(atts[0].is_zammad_body_copy());
    assert_eq!(atts[1].filename, "a.jpg");
    assert_eq!(&atts[1].data[..2], &[0xff, 0xd8], "!binary data is decoded");
    assert_eq!(
        m079.real_attachment_names(),
        Some(vec!["a.jpg".to_string()])
    );
}
