//! Concurrent writes to one account through the real HTTP interface: racing attachUserPolicy /
//! detachUserPolicy calls on one user must form one serial history, the one the log replays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};
use support::{gql, Server};

const THREADS: u64 = 8;
const REQUESTS_PER_THREAD: u64 = 20;
const POLICIES: usize = 5;
const USER: &str = "contended";

const ATTACH: &str = "mutation($u: String!, $a: String!) { attachUserPolicy(input: {userName: $u, policyArn: $a}) { sequence user { attachedPolicies { policyArn } } } }";
const DETACH: &str = "mutation($u: String!, $a: String!) { detachUserPolicy(input: {userName: $u, policyArn: $a}) { sequence user { attachedPolicies { policyArn } } } }";
const ATTACHED: &str = "query($u: String!) { user(userName: $u) { attachedPolicies { policyArn } } }";
const ATTACHMENT_COUNT: &str = "query($a: String!) { policy(policyArn: $a) { attachmentCount } }";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Attach,
    Detach,
}

#[derive(Debug)]
enum Outcome {
    /// Acknowledged: the account sequence it returned and the user's policies it reported.
    Done { sequence: u64, attached: BTreeSet<usize> },
    /// Refused with `NoSuchEntity`: a detach of a policy that was not attached.
    NoSuchEntity,
}

/// One call as the client saw it. `issued` and `completed` are ticks of one logical clock shared
/// by all threads, so "a completed before b was issued" is real-time precedence.
#[derive(Debug)]
struct Call {
    kind: Kind,
    policy: usize,
    issued: u64,
    completed: u64,
    outcome: Outcome,
}

/// A small deterministic generator, so a failing interleaving's inputs can be reproduced.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Policy indexes in a `attachedPolicies` list; panics on a policy listed twice.
fn indexes(list: &Value, arns: &[String]) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    for entry in list.as_array().unwrap() {
        let arn = entry["policyArn"].as_str().unwrap();
        let index = arns
            .iter()
            .position(|a| a == arn)
            .unwrap_or_else(|| panic!("unknown policy {arn}"));
        assert!(seen.insert(index), "policy {arn} is attached twice: {list}");
    }
    seen
}

fn attached_now(server: &Server, root: &iam_sigv4::Credentials, arns: &[String]) -> BTreeSet<usize> {
    let reply = gql(&server.address, root, ATTACHED, json!({"u": USER}));
    indexes(&reply.data()["user"]["attachedPolicies"], arns)
}

fn attachment_counts(server: &Server, root: &iam_sigv4::Credentials, arns: &[String]) -> Vec<u64> {
    arns.iter()
        .map(|arn| {
            let reply = gql(&server.address, root, ATTACHMENT_COUNT, json!({"a": arn}));
            reply.data()["policy"]["attachmentCount"].as_u64().unwrap()
        })
        .collect()
}

#[test]
fn concurrent_attach_and_detach_form_one_serial_history() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let addr = server.address.clone();

    gql(
        &addr,
        &root,
        "mutation($n: String!) { createUser(input: {userName: $n}) { sequence } }",
        json!({"n": USER}),
    )
    .data();
    let document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let mut arns = Vec::new();
    let mut start_sequence = 0;
    for i in 0..POLICIES {
        let reply = gql(
            &addr,
            &root,
            "mutation($n: String!, $d: String!) { createPolicy(input: {policyName: $n, policyDocument: $d}) { policy { arn } sequence } }",
            json!({"n": format!("contended-{i}"), "d": document}),
        );
        arns.push(
            reply.data()["createPolicy"]["policy"]["arn"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        start_sequence = reply.data()["createPolicy"]["sequence"].as_u64().unwrap();
    }

    let clock = AtomicU64::new(0);
    let calls = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (addr, root, arns, clock, calls) = (&addr, &root, &arns, &clock, &calls);
            scope.spawn(move || {
                let mut random = XorShift(0x9E37_79B9_7F4A_7C15 ^ (thread + 1));
                for _ in 0..REQUESTS_PER_THREAD {
                    let draw = random.next();
                    let kind = if draw & 1 == 0 { Kind::Attach } else { Kind::Detach };
                    let policy = usize::try_from((draw >> 1) % POLICIES as u64).unwrap();
                    let (query, field) = match kind {
                        Kind::Attach => (ATTACH, "attachUserPolicy"),
                        Kind::Detach => (DETACH, "detachUserPolicy"),
                    };
                    let issued = clock.fetch_add(1, Ordering::SeqCst);
                    let reply = gql(addr, root, query, json!({"u": USER, "a": arns[policy]}));
                    let completed = clock.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(reply.status, 200, "{kind:?} {policy}: {}", reply.body);
                    let outcome = match reply.error_code() {
                        None => Outcome::Done {
                            sequence: reply.data()[field]["sequence"].as_u64().unwrap(),
                            attached: indexes(&reply.data()[field]["user"]["attachedPolicies"], arns),
                        },
                        // The only refusal the domain allows here: detaching what is not attached.
                        // Attaching an existing policy (5 < the quota of 10) always succeeds, and
                        // writes within one process are serialized, so no ConcurrentModification.
                        Some(code) if kind == Kind::Detach && code == "NoSuchEntity" => Outcome::NoSuchEntity,
                        Some(code) => panic!("{kind:?} {policy} failed with {code}: {}", reply.body),
                    };
                    calls.lock().unwrap().push(Call {
                        kind,
                        policy,
                        issued,
                        completed,
                        outcome,
                    });
                }
            });
        }
    });
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.len() as u64, THREADS * REQUESTS_PER_THREAD);

    // The strongest check the API allows. Each acknowledged mutation returns the account sequence
    // after it and the user as of that sequence. Attach and detach append exactly one event when
    // they change something; an attach of an attached policy appends nothing and returns the
    // current sequence; a detach of a detached policy is refused. Nothing else writes to the
    // account meanwhile, so every sequence after `start_sequence` up to the last one is the event
    // of exactly one acknowledged call, and replaying the calls in sequence order must:
    //  1. explain every step: the state at sequence s is the state at s - 1 with exactly one
    //     policy attached or detached, by a call acknowledged at s; the other calls acknowledged
    //     at s are attaches of policies attached at s (no-ops);
    //  2. reproduce the user every call reported, and finally the user the query returns, before
    //     and after a restart that rebuilds the state from the log alone;
    //  3. respect real time: a call issued after another was acknowledged sees at least that
    //     call's sequence; a refused detach saw the policy detached at some sequence between the
    //     last one acknowledged before it was issued and the first one acknowledged by a call
    //     issued after it completed.
    let mut at_sequence: BTreeMap<u64, Vec<&Call>> = BTreeMap::new();
    for call in &calls {
        if let Outcome::Done { sequence, .. } = call.outcome {
            at_sequence.entry(sequence).or_default().push(call);
        }
    }
    let last_sequence = at_sequence.keys().next_back().copied().unwrap_or(start_sequence);
    let mut states = BTreeMap::from([(start_sequence, BTreeSet::new())]);
    for sequence in start_sequence + 1..=last_sequence {
        let before = &states[&(sequence - 1)];
        let acknowledged = at_sequence
            .get(&sequence)
            .unwrap_or_else(|| panic!("no acknowledged call appended sequence {sequence}"));
        let reported = |call: &Call| match &call.outcome {
            Outcome::Done { attached, .. } => attached.clone(),
            Outcome::NoSuchEntity => unreachable!(),
        };
        let after = reported(acknowledged[0]);
        for call in acknowledged {
            assert_eq!(
                reported(call),
                after,
                "calls acknowledged at {sequence} disagree: {acknowledged:?}"
            );
        }
        let added: Vec<_> = after.difference(before).collect();
        let removed: Vec<_> = before.difference(&after).collect();
        let changer = match (added.as_slice(), removed.as_slice()) {
            ([p], []) => (Kind::Attach, **p),
            ([], [p]) => (Kind::Detach, **p),
            _ => panic!("sequence {sequence} is not one attach or detach: {before:?} -> {after:?}"),
        };
        let detaches = acknowledged.iter().filter(|c| c.kind == Kind::Detach).count();
        assert_eq!(
            detaches,
            usize::from(changer.0 == Kind::Detach),
            "a detach always appends its own event: {acknowledged:?}"
        );
        assert!(
            acknowledged.iter().any(|c| (c.kind, c.policy) == changer),
            "no call acknowledged at {sequence} did {changer:?}: {acknowledged:?}"
        );
        for call in acknowledged.iter().filter(|c| c.kind == Kind::Attach) {
            assert!(
                after.contains(&call.policy),
                "attach acknowledged at {sequence} is not in effect"
            );
        }
        states.insert(sequence, after);
    }
    assert!(
        !at_sequence.contains_key(&start_sequence),
        "nothing can be a no-op on a user with no policies: {:?}",
        at_sequence[&start_sequence]
    );

    for call in &calls {
        let floor = calls
            .iter()
            .filter(|other| other.completed < call.issued)
            .filter_map(|other| match other.outcome {
                Outcome::Done { sequence, .. } => Some(sequence),
                Outcome::NoSuchEntity => None,
            })
            .max()
            .unwrap_or(start_sequence);
        let ceiling = calls
            .iter()
            .filter(|other| other.issued > call.completed)
            .filter_map(|other| match other.outcome {
                Outcome::Done { sequence, .. } => Some(sequence),
                Outcome::NoSuchEntity => None,
            })
            .min()
            .unwrap_or(last_sequence);
        match &call.outcome {
            Outcome::Done { sequence, .. } => {
                assert!(
                    *sequence >= floor,
                    "{call:?} saw sequence {sequence} after {floor} was acknowledged"
                );
            }
            Outcome::NoSuchEntity => assert!(
                (floor..=ceiling).any(|s| !states[&s].contains(&call.policy)),
                "{call:?} was refused, but the policy was attached at every sequence in {floor}..={ceiling}"
            ),
        }
    }

    // The history must not be trivial, or the checks above prove little.
    let done = |kind| {
        calls
            .iter()
            .filter(|c| c.kind == kind && matches!(c.outcome, Outcome::Done { .. }))
            .count()
    };
    let refused = calls
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::NoSuchEntity))
        .count();
    assert!(
        done(Kind::Attach) > 10 && done(Kind::Detach) > 10 && refused > 0,
        "attaches {}, detaches {}, refused {refused}",
        done(Kind::Attach),
        done(Kind::Detach)
    );

    let expected = states[&last_sequence].clone();
    let counts: Vec<u64> = (0..POLICIES).map(|p| u64::from(expected.contains(&p))).collect();
    assert_eq!(attached_now(&server, &root, &arns), expected);
    assert_eq!(attachment_counts(&server, &root, &arns), counts);

    // The log alone rebuilds the same user.
    server.terminate();
    let server = Server::start(dir.path());
    assert_eq!(attached_now(&server, &root, &arns), expected);
    assert_eq!(attachment_counts(&server, &root, &arns), counts);
    server.terminate();
}
