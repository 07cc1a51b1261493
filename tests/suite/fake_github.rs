//! A fake GitHub REST API on 127.0.0.1 (wiremock with one stateful responder) that behaves as
//! the REST docs say for what upcycle uses: issue comments listed 30 a page by default (at most
//! 100) with `Link` headers whose URLs use the `/repositories/{id}/` form, created (201) and
//! updated with PATCH (200); 401 for a wrong token, 403 `Resource not accessible by integration`
//! for writes with a read-only token, 404 for what does not exist, 422 for a body over 65,536
//! characters; the pull requests of a commit. A GHES `/api/v3` prefix is accepted. Every request
//! is recorded (method, path with query, body, authorization), and writes can be made to fail.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

pub const OWNER: &str = "upcycle-dev";
pub const REPO: &str = "shop";
pub const REPO_ID: u64 = 801_234_567;
/// A token that may write (what `pull-requests: write` gives).
pub const TOKEN: &str = "ghs_write_token_for_tests";
/// A token that may only read (a fork's pull request).
pub const READ_ONLY_TOKEN: &str = "ghs_read_only_token_for_tests";
pub const PR: u64 = 42;
const DOCS: &str = "https://docs.github.com/rest";

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// Path and query, without the GHES prefix.
    pub path: String,
    pub body: Option<Value>,
    pub authorization: Option<String>,
}

/// How the next write fails.
#[derive(Debug, Clone, Copy)]
pub struct WriteFailure {
    pub status: u16,
    /// Whether the write went through before the error (a lost answer).
    pub applied: bool,
}

#[derive(Debug, Clone)]
struct Stored {
    id: u64,
    issue: u64,
    body: String,
    login: String,
}

#[derive(Default)]
struct State {
    base: String,
    comments: Vec<Stored>,
    next_id: u64,
    write_failures: VecDeque<WriteFailure>,
    commit_pulls: BTreeMap<String, Vec<u64>>,
    requests: Vec<Recorded>,
}

#[derive(Clone)]
struct Responder(Arc<Mutex<State>>);

/// The server and its state.
pub struct FakeGitHub {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

fn user(login: &str, id: u64, kind: &str) -> Value {
    let u = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("MDM6Qm90{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/in/{id}?v=4"),
        "gravatar_id": "", "url": u, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"), "type": kind,
        "user_view_type": "public", "site_admin": false
    })
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "message": message,
        "documentation_url": DOCS,
        "status": status.to_string()
    }))
}

impl State {
    fn comment_json(&self, c: &Stored) -> Value {
        let api = format!("{}/repos/{OWNER}/{REPO}", self.base);
        let bot = c.login.ends_with("[bot]");
        json!({
            "url": format!("{api}/issues/comments/{}", c.id),
            "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{}#issuecomment-{}", c.issue, c.id),
            "issue_url": format!("{api}/issues/{}", c.issue),
            "id": c.id,
            "node_id": format!("IC_kwDOL8xYR86{}", c.id),
            "user": if bot { user(&c.login, 41_898_282, "Bot") } else { user(&c.login, 90_000_002, "User") },
            "created_at": "2026-11-23T09:12:00Z",
            "updated_at": "2026-11-23T09:12:00Z",
            "author_association": if bot { "NONE" } else { "MEMBER" },
            "body": c.body,
            "reactions": {
                "url": format!("{api}/issues/comments/{}/reactions", c.id),
                "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
            },
            "performed_via_github_app": null
        })
    }

    fn pull_json(&self, number: u64) -> Value {
        let api = format!("{}/repos/{OWNER}/{REPO}", self.base);
        json!({
            "url": format!("{api}/pulls/{number}"), "id": 2_112_345_678u64, "number": number,
            "node_id": "PR_kwDOL8xYR85911Xo", "state": "closed", "locked": false,
            "title": "Add order status", "user": user("octo-dev", 90_000_002, "User"),
            "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{number}"),
            "merged_at": "2026-11-23T10:02:11Z",
            "merge_commit_sha": "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            "head": {"label": "upcycle-dev:feature/order-status", "ref": "feature/order-status", "sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6"},
            "base": {"label": "upcycle-dev:main", "ref": "main", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
            "author_association": "MEMBER", "draft": false
        })
    }

    /// Whether `issue` is a pull request of the repository: PR, or one a commit belongs to.
    fn knows(&self, issue: u64) -> bool {
        issue == PR
            || self
                .commit_pulls
                .values()
                .any(|numbers| numbers.contains(&issue))
    }

    fn list_comments(&self, req: &Request, prefix: &str, issue: u64) -> ResponseTemplate {
        if !self.knows(issue) {
            return error(404, "Not Found");
        }
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let per_page = query
            .get("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page = query
            .get("page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let all: Vec<&Stored> = self.comments.iter().filter(|c| c.issue == issue).collect();
        let last = all.len().div_ceil(per_page).max(1);
        let items: Vec<Value> = all
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|c| self.comment_json(c))
            .collect();
        let link = |p: usize, rel: &str| {
            format!(
                "<{}{prefix}/repositories/{REPO_ID}/issues/{issue}/comments?per_page={per_page}&page={p}>; rel=\"{rel}\"",
                self.base
            )
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(link(page - 1, "prev"));
        }
        if page < last {
            links.push(link(page + 1, "next"));
            links.push(link(last, "last"));
        }
        if page > 1 {
            links.push(link(1, "first"));
        }
        let mut response = ResponseTemplate::new(200).set_body_json(Value::Array(items));
        if !links.is_empty() {
            response = response.append_header("Link", links.join(", "));
        }
        response
    }

    /// Checks a write's body and the injected failures; `apply` does the write.
    fn write(
        &mut self,
        token: &str,
        body: Option<&Value>,
        ok_status: u16,
        apply: impl FnOnce(&mut State, String) -> Option<u64>,
    ) -> ResponseTemplate {
        if token == READ_ONLY_TOKEN {
            return error(403, "Resource not accessible by integration");
        }
        let Some(text) = body.and_then(|b| b.get("body")).and_then(Value::as_str) else {
            return error(422, "Invalid request.\n\n\"body\" wasn't supplied.");
        };
        if text.chars().count() > 65_536 {
            return ResponseTemplate::new(422).set_body_json(json!({
                "message": "Validation Failed",
                "errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                            "message": "body is too long (maximum is 65536 characters)"}],
                "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
                "status": "422"
            }));
        }
        let failure = self.write_failures.pop_front();
        if let Some(f) = failure
            && !f.applied
        {
            return ResponseTemplate::new(f.status)
                .set_body_string("<html><body>Bad gateway</body></html>");
        }
        let Some(id) = apply(self, text.to_string()) else {
            return error(404, "Not Found");
        };
        if let Some(f) = failure {
            return ResponseTemplate::new(f.status)
                .set_body_string("<html><body>Bad gateway</body></html>");
        }
        let stored = self.comments.iter().find(|c| c.id == id).cloned();
        let json = stored.map(|c| self.comment_json(&c)).unwrap_or(Value::Null);
        ResponseTemplate::new(ok_status).set_body_json(json)
    }
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().expect("state");
        let full = req.url.path().to_string();
        let (prefix, path) = match full.strip_prefix("/api/v3") {
            Some(rest) => ("/api/v3", rest.to_string()),
            None => ("", full.clone()),
        };
        let with_query = match req.url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let body: Option<Value> = serde_json::from_slice(&req.body).ok();
        let authorization = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        state.requests.push(Recorded {
            method: req.method.to_string(),
            path: with_query,
            body: body.clone(),
            authorization: authorization.clone(),
        });
        let token = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        if token != TOKEN && token != READ_ONLY_TOKEN {
            return error(401, "Bad credentials");
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let repo_ok = |p: &[&str]| {
            (p.len() >= 3 && p[0] == "repos" && p[1] == OWNER && p[2] == REPO)
                || (p.len() >= 2 && p[0] == "repositories" && p[1] == REPO_ID.to_string())
        };
        if !repo_ok(&parts) {
            return error(404, "Not Found");
        }
        let rest: Vec<&str> = if parts[0] == "repos" {
            parts[3..].to_vec()
        } else {
            parts[2..].to_vec()
        };
        let method = req.method.as_str();
        match (method, rest.as_slice()) {
            ("GET", ["issues", n, "comments"]) => match n.parse() {
                Ok(n) => state.list_comments(req, prefix, n),
                Err(_) => error(404, "Not Found"),
            },
            ("POST", ["issues", n, "comments"]) => {
                let Ok(issue) = n.parse::<u64>() else {
                    return error(404, "Not Found");
                };
                if !state.knows(issue) {
                    return error(404, "Not Found");
                }
                state.write(token, body.as_ref(), 201, |s, text| {
                    s.next_id += 1;
                    let id = 2_500_000_000 + s.next_id;
                    s.comments.push(Stored {
                        id,
                        issue,
                        body: text,
                        login: "github-actions[bot]".into(),
                    });
                    Some(id)
                })
            }
            ("PATCH", ["issues", "comments", id]) => {
                let Ok(id) = id.parse::<u64>() else {
                    return error(404, "Not Found");
                };
                state.write(token, body.as_ref(), 200, |s, text| {
                    let c = s.comments.iter_mut().find(|c| c.id == id)?;
                    c.body = text;
                    Some(id)
                })
            }
            ("GET", ["commits", sha, "pulls"]) => match state.commit_pulls.get(*sha) {
                Some(numbers) => {
                    let list: Vec<Value> = numbers.iter().map(|n| state.pull_json(*n)).collect();
                    ResponseTemplate::new(200).set_body_json(Value::Array(list))
                }
                None => error(422, &format!("No commit found for SHA: {sha}")),
            },
            _ => error(404, "Not Found"),
        }
    }
}

impl FakeGitHub {
    pub async fn start() -> FakeGitHub {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            base: server.uri(),
            ..State::default()
        }));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        FakeGitHub { server, state }
    }

    /// `http://127.0.0.1:PORT` (add `/api/v3` for GHES).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Adds `count` comments by someone else to the PR; returns their ids.
    pub fn seed_comments(&self, count: usize, body: impl Fn(usize) -> String) -> Vec<u64> {
        let mut s = self.state.lock().expect("state");
        (0..count)
            .map(|i| {
                s.next_id += 1;
                let id = 2_500_000_000 + s.next_id;
                s.comments.push(Stored {
                    id,
                    issue: PR,
                    body: body(i),
                    login: "octo-dev".into(),
                });
                id
            })
            .collect()
    }

    /// The next write fails with `status`, after being applied or not.
    pub fn fail_next_write(&self, status: u16, applied: bool) {
        self.state
            .lock()
            .expect("state")
            .write_failures
            .push_back(WriteFailure { status, applied });
    }

    pub fn set_commit_pulls(&self, sha: &str, numbers: &[u64]) {
        self.state
            .lock()
            .expect("state")
            .commit_pulls
            .insert(sha.into(), numbers.to_vec());
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("state").requests.clone()
    }

    /// `METHOD path` of every request so far.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state.lock().expect("state").requests.clear();
    }

    /// The bodies of the comments on `issue` that contain `marker`, with their ids.
    pub fn comments_on(&self, issue: u64, marker: &str) -> Vec<(u64, String)> {
        self.state
            .lock()
            .expect("state")
            .comments
            .iter()
            .filter(|c| c.issue == issue && c.body.contains(marker))
            .map(|c| (c.id, c.body.clone()))
            .collect()
    }

    /// The bodies of the PR's comments that contain `marker`, with their ids.
    pub fn comments_with(&self, marker: &str) -> Vec<(u64, String)> {
        self.state
            .lock()
            .expect("state")
            .comments
            .iter()
            .filter(|c| c.body.contains(marker))
            .map(|c| (c.id, c.body.clone()))
            .collect()
    }
}
