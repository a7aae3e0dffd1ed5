//! The README's quick start, run the way a newcomer runs it (issue 12), so the README cannot drift
//! from the real command-line interfaces again.
//!
//! What runs: the fenced ```` ```sh ```` blocks of `README.md` (read at test time, never copied
//! here) under the headings `## Set-up on a fresh machine` and ``## Using `iamctl` ``, in order.
//! Each block is split into commands: comment-only lines are dropped, and a command goes on over
//! a line that ends in a backslash or leaves a quote open (here-documents are refused).
//!
//! What does not run, by explicit rule:
//! - every section other than those two, e.g. `## Distributed mode`, which needs PostgreSQL and
//!   Kafka;
//! - the block whose whole text is `./scripts/test.sh` ([`TEST_COMMAND_BLOCK`]): it runs the
//!   workspace's tests, this one among them.
//!
//! How it runs, as from the repository root of a fresh machine:
//! - The "repository root" is a fresh temporary directory holding a copy of `examples/`; `data/`
//!   and any file the commands write end up there.
//! - `cargo` is a stand-in script first on `PATH`: `cargo run [--release] [-q|--quiet] -p iamd`
//!   (or `-p iamctl`) `[-- ARGS]` executes the already-built binary with `ARGS`. This substitutes
//!   only that prefix (a test must not start a release build); the command text runs verbatim.
//!   Any other `cargo` invocation fails (exit code 97). `iamd` is `CARGO_BIN_EXE_iamd`; `iamctl`
//!   is the binary beside it, which `cargo test --workspace` or `cargo build -p iamctl` builds.
//! - The environment is cleared down to `PATH` (the stand-in's directory, then the caller's
//!   `PATH` without any directory holding an `iamd` or `iamctl`, so an installed one cannot stand
//!   in for what the README defines), `HOME` (an empty directory: no `~/.aws` of the developer's),
//!   and the two addresses below.
//! - The first command must be the server's (`cargo run ... -p iamd`). It runs in the background
//!   with `GATEHOUSE_LISTEN=127.0.0.1:0` (a free port; 8080 may be taken) until it prints
//!   `iamd listening on`. Every later command runs, in order, in one `bash` (so shell functions
//!   and variables carry over, as in a newcomer's terminal) with `GATEHOUSE_ENDPOINT` naming that
//!   address, which is where iamctl sends its requests when no `--endpoint` is given.
//! - Each command must exit with 0. Standard output, when not empty, must be one JSON document
//!   without GraphQL `errors`. The examples are checked by what they show: `createUser` answers a
//!   user ARN, `authorize` a decision, `simulate-custom-policy` evaluation results,
//!   `validate-policy` findings, and `audit-export` a CloudTrail file (the file its `> FILE`
//!   redirect names) with records, `CreateUser` among them. Each of these must appear in the
//!   quick start at least once.
//! - Last, iamd is stopped with SIGTERM and must exit cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The README sections whose commands run, in the README's order.
const SECTIONS: [&str; 2] = ["## Set-up on a fresh machine", "## Using `iamctl`"];

/// The block left out: running the test-suite from inside the test-suite would recurse.
const TEST_COMMAND_BLOCK: &str = "./scripts/test.sh";

/// How long iamd may take to listen, and the quick start's commands to finish.
const STARTUP: Duration = Duration::from_secs(60);
const COMMANDS: Duration = Duration::from_secs(300);

#[test]
fn readme_quick_start_runs_verbatim() {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(repository.join("README.md")).unwrap();
    let mut commands: Vec<String> = quick_start_blocks(&readme)
        .iter()
        .flat_map(|block| split_commands(block))
        .collect();
    assert!(!commands.is_empty(), "the README's quick start has no commands");
    let server_command = commands.remove(0);
    assert!(
        server_command.starts_with("cargo run") && server_command.contains("-p iamd"),
        "the quick start's first command must start iamd, not `{server_command}`"
    );

    let iamd = PathBuf::from(env!("CARGO_BIN_EXE_iamd"));
    let iamctl = iamd.with_file_name(format!("iamctl{}", std::env::consts::EXE_SUFFIX));
    assert!(
        iamctl.is_file(),
        "{} is missing: build iamctl first (`cargo build -p iamctl`; `cargo test --workspace` builds it too)",
        iamctl.display()
    );

    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("gatehouse");
    let home = scratch.path().join("home");
    let bin = scratch.path().join("bin");
    let out = scratch.path().join("out");
    for dir in [&root, &home, &bin, &out] {
        std::fs::create_dir(dir).unwrap();
    }
    copy_dir(&repository.join("examples"), &root.join("examples"));
    write_cargo_stand_in(&bin.join("cargo"), &iamd, &iamctl);
    let path = std::iter::once(bin.clone())
        .chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .filter(|dir| !dir.join("iamd").exists() && !dir.join("iamctl").exists()),
        )
        .collect::<Vec<_>>();
    let path = std::env::join_paths(path).unwrap();
    let shell = |command: &mut Command| {
        command
            .env_clear()
            .env("PATH", &path)
            .env("HOME", &home)
            .current_dir(&root);
    };

    // The server, in a process group of its own so that stopping it reaches whatever bash started.
    let iamd_log = out.join("iamd.stderr");
    let mut server = Command::new("bash");
    shell(&mut server);
    server
        .args(["-c", &server_command])
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&iamd_log).unwrap())
        .process_group(0);
    let mut server = ServerGuard {
        child: server.spawn().unwrap(),
        stopped: false,
    };
    let lines = read_lines(server.child.stdout.take().unwrap());
    let deadline = Instant::now() + STARTUP;
    let address = loop {
        let line = match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!(
                "`{server_command}` did not print `iamd listening on` within {STARTUP:?}; its stderr:\n{}",
                read(&iamd_log)
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "`{server_command}` exited before listening ({:?}); its stderr:\n{}",
                server.child.wait(),
                read(&iamd_log)
            ),
        };
        if let Some(rest) = line.strip_prefix("iamd listening on ") {
            break rest.split(';').next().unwrap().trim().to_owned();
        }
    };
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");

    // Every later command, in one shell, each with its own outputs and exit status.
    let mut script = String::new();
    for (index, command) in commands.iter().enumerate() {
        let file = |kind: &str| shell_quote(&out.join(format!("{index}.{kind}")).display().to_string());
        script.push_str(&format!(
            "{{\n{command}\n}} </dev/null >{} 2>{}\nreadme_test_status=$?\necho \"$readme_test_status\" >{}\n\
             [ \"$readme_test_status\" = 0 ] || exit 1\n",
            file("stdout"),
            file("stderr"),
            file("status"),
        ));
    }
    let script_file = scratch.path().join("quick-start.sh");
    std::fs::write(&script_file, &script).unwrap();
    let shell_log = out.join("shell.stderr");
    let mut runner = Command::new("bash");
    shell(&mut runner);
    let mut runner = runner
        .arg(&script_file)
        .env("GATEHOUSE_ENDPOINT", &address)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&shell_log).unwrap())
        .spawn()
        .unwrap();
    wait_with_timeout(&mut runner, COMMANDS, "the quick start's commands");

    let mut shown = BTreeSet::new();
    let mut created_user = false;
    for (index, command) in commands.iter().enumerate() {
        let stdout = read(&out.join(format!("{index}.stdout")));
        let stderr = read(&out.join(format!("{index}.stderr")));
        let context = || {
            format!(
                "README command:\n{command}\nstdout:\n{stdout}\nstderr:\n{stderr}\niamd's stderr (last lines):\n{}",
                tail(&read(&iamd_log), 20)
            )
        };
        let status = std::fs::read_to_string(out.join(format!("{index}.status"))).unwrap_or_else(|_| {
            panic!(
                "the shell stopped before this command finished; its stderr:\n{}\n{}",
                read(&shell_log),
                context()
            )
        });
        assert_eq!(status.trim(), "0", "exit status {}\n{}", status.trim(), context());

        let json = (!stdout.trim().is_empty()).then(|| {
            let value: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("standard output is not one JSON document ({e})\n{}", context()));
            assert!(value.get("errors").is_none(), "GraphQL errors\n{}", context());
            value
        });
        let answer = || json.clone().unwrap_or_else(|| panic!("no output\n{}", context()));
        if command.contains("createUser(") {
            let arn = answer()["data"]["createUser"]["user"]["arn"]
                .as_str()
                .map(str::to_owned);
            let arn = arn.unwrap_or_else(|| panic!("no user ARN\n{}", context()));
            assert!(
                arn.starts_with("arn:aws:iam::") && arn.contains(":user/"),
                "{arn}\n{}",
                context()
            );
            created_user = true;
            shown.insert("createUser");
        }
        if command.contains("authorize(") {
            let answer = answer();
            let decision = answer["data"]["authorize"]["decision"].as_str();
            assert!(
                matches!(decision, Some("Allow" | "ExplicitDeny" | "ImplicitDeny")),
                "no decision\n{}",
                context()
            );
            assert!(answer["data"]["authorize"]["eventID"].is_string(), "{}", context());
            shown.insert("authorize");
        }
        if command.contains("iamctl simulate-custom-policy") {
            let results = answer()["EvaluationResults"].as_array().cloned().unwrap_or_default();
            assert!(!results.is_empty(), "no EvaluationResults\n{}", context());
            assert!(results.iter().all(|r| r["EvalDecision"].is_string()), "{}", context());
            shown.insert("simulate-custom-policy");
        }
        if command.contains("iamctl validate-policy") {
            assert!(answer()["findings"].is_array(), "no findings array\n{}", context());
            shown.insert("validate-policy");
        }
        if command.contains("iamctl audit-export") {
            let text = match redirect_target(command) {
                Some(file) => read(&root.join(file)),
                None => stdout.clone(),
            };
            let trail: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("the export is not JSON ({e}): {text}\n{}", context()));
            let records = trail["Records"].as_array().cloned().unwrap_or_default();
            assert!(!records.is_empty(), "no Records: {text}\n{}", context());
            if created_user {
                assert!(
                    records.iter().any(|r| r["eventName"] == "CreateUser"),
                    "the quick start's CreateUser is not in the export: {text}\n{}",
                    context()
                );
            }
            shown.insert("audit-export");
        }
    }
    for example in [
        "createUser",
        "authorize",
        "simulate-custom-policy",
        "validate-policy",
        "audit-export",
    ] {
        assert!(shown.contains(example), "the quick start no longer shows `{example}`");
    }

    server.stop(lines);
}

/// The fenced `sh` blocks of the [`SECTIONS`], in order, without the [`TEST_COMMAND_BLOCK`].
fn quick_start_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    for heading in SECTIONS {
        let start = readme
            .lines()
            .position(|line| line.trim_end() == heading)
            .unwrap_or_else(|| panic!("README.md has no heading `{heading}`"));
        let mut in_section = Vec::new();
        let mut block: Option<String> = None;
        for line in readme.lines().skip(start + 1) {
            match block.as_mut() {
                None if line.starts_with("## ") => break,
                None if line.trim_end() == "```sh" => block = Some(String::new()),
                None => assert!(
                    !line.starts_with("```") || line.trim_end() == "```",
                    "under `{heading}`: only ```sh blocks are run; say `sh` or change this test: {line}"
                ),
                Some(_) if line.trim_end() == "```" => in_section.extend(block.take()),
                Some(text) => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        assert!(block.is_none(), "an unterminated ```sh block under `{heading}`");
        assert!(!in_section.is_empty(), "no ```sh block under `{heading}`");
        blocks.extend(in_section.into_iter().filter(|b| b.trim() != TEST_COMMAND_BLOCK));
    }
    blocks
}

/// The shell commands of a block: a command ends at the end of a line unless the line ends in a
/// backslash or leaves a quote open. Comment-only and blank lines between commands are dropped.
fn split_commands(block: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    let (mut single, mut double) = (false, false);
    for line in block.lines() {
        let trimmed = line.trim_start();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
        let mut continued = false;
        let mut word_start = true;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                // An escaped character; a backslash at the end of the line continues the command.
                '\\' if !single => continued = chars.next().is_none(),
                '#' if !single && !double && word_start => break,
                '<' if !single && !double && chars.peek() == Some(&'<') => {
                    panic!("here-documents are not supported by this test's splitter: {line}")
                }
                _ => {}
            }
            word_start = !single && !double && (c.is_whitespace() || ";&|()<>".contains(c));
        }
        if !(single || double || continued) {
            commands.push(std::mem::take(&mut current));
        }
    }
    assert!(
        current.is_empty(),
        "a command runs off the end of its block:\n{current}"
    );
    commands
}

/// The file a command's standard output is redirected to (`> FILE` or `>FILE`), if any.
fn redirect_target(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    while let Some(word) = words.next() {
        let target = match word {
            ">" => words.next(),
            _ if word.starts_with('>') && !word.starts_with(">&") => Some(&word[1..]),
            _ => None,
        };
        if let Some(target) = target {
            return Some(target.trim_matches(['"', '\'']).to_owned());
        }
    }
    None
}

/// A `cargo` that runs the built binaries for `cargo run ... -p iamd|iamctl [-- ARGS]` only.
fn write_cargo_stand_in(file: &Path, iamd: &Path, iamctl: &Path) {
    let script = format!(
        r#"#!/usr/bin/env bash
# The README test's stand-in for cargo: runs already-built binaries, builds nothing.
refuse() {{
    echo "README test: the cargo stand-in runs only 'cargo run [--release] [-q] -p iamd|iamctl [-- ARGS]', not 'cargo $ALL'" >&2
    exit 97
}}
ALL="$*"
[ "${{1-}}" = run ] || refuse
shift
bin=
while [ $# -gt 0 ]; do
    case $1 in
        --release | -q | --quiet) shift ;;
        -p)
            case ${{2-}} in
                iamd) bin={iamd} ;;
                iamctl) bin={iamctl} ;;
                *) refuse ;;
            esac
            shift 2 ;;
        --) shift; break ;;
        *) refuse ;;
    esac
done
[ -n "$bin" ] || refuse
exec "$bin" "$@"
"#,
        iamd = shell_quote(&iamd.display().to_string()),
        iamctl = shell_quote(&iamctl.display().to_string()),
    );
    std::fs::write(file, script).unwrap();
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The server's process group: SIGTERM on [`ServerGuard::stop`], SIGKILL if the test fails first.
struct ServerGuard {
    child: Child,
    stopped: bool,
}

impl ServerGuard {
    fn signal(&self, signal: &str) -> bool {
        Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn stop(mut self, lines: Receiver<String>) {
        assert!(self.signal("-TERM"), "cannot signal iamd");
        let status = wait_with_timeout(&mut self.child, STARTUP, "iamd's shutdown");
        self.stopped = true;
        let said: Vec<String> = lines.iter().collect();
        assert!(
            status.success() && said.iter().any(|l| l == "iamd stopped"),
            "iamd did not stop cleanly ({status:?}); its output: {said:?}"
        );
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if !self.stopped {
            self.signal("-KILL");
            let _ = self.child.wait();
        }
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lines of a child's output, read on a thread so the child never blocks on a full pipe.
fn read_lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn read(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap_or_default()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn the_splitter_follows_quotes_continuations_and_comments() {
    let block = "# a comment\nfoo() { bar -q -- \"$@\"; }\nx \\\n  --y 'a\nb' # trailing\n\necho \"it's\" > f.json\n";
    assert_eq!(
        split_commands(block),
        [
            "foo() { bar -q -- \"$@\"; }",
            "x \\\n  --y 'a\nb' # trailing",
            "echo \"it's\" > f.json"
        ]
    );
    assert_eq!(redirect_target("echo \"it's\" > f.json").as_deref(), Some("f.json"));
    assert_eq!(redirect_target("a 2>&1 >out"), Some("out".to_owned()));
    assert_eq!(redirect_target("a | b"), None);
}
