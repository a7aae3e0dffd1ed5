//! Fuzz target: arbitrary bytes as a policy document; whatever parses is compiled and evaluated.
#![no_main]

use iam_policy::{
    evaluate, parse_policy, Caller, Context, ContextValue, Policies, PolicySet, PolicySource, PolicyType, Request,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(parsed) = parse_policy(text) else { return };
    // Printing a parsed document must give text that parses to the same document.
    let printed = parsed.policy.to_string();
    match parse_policy(&printed) {
        Ok(again) => assert_eq!(
            again.policy, parsed.policy,
            "print/parse changed the document:\n{printed}"
        ),
        Err(e) => panic!("printed document does not parse: {e}\n{printed}"),
    }
    let Ok(set) = PolicySet::compile([(PolicySource::new("fuzz", PolicyType::None), &parsed)]) else {
        return;
    };
    let Some(caller) = Caller::from_arn("arn:aws:iam::111122223333:user/division/alice") else {
        return;
    };
    let context = Context::new()
        .with("aws:username", ContextValue::single("alice"))
        .with("aws:SourceIp", ContextValue::single("203.0.113.7"))
        .with("aws:MultiFactorAuthPresent", ContextValue::single("true"))
        .with("aws:CurrentTime", ContextValue::single("2026-01-01T00:00:00Z"))
        .with("aws:TagKeys", ContextValue::list(["team", "env"]));
    let request = Request {
        caller: &caller,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::reports/alice/q3.csv",
        resource_account: Some("444455556666"),
        context: &context,
    };
    let _ = evaluate(
        &Policies {
            identity: Some(&set),
            resource: Some(&set),
            ..Policies::default()
        },
        &request,
    );
});
