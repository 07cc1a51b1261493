//! GitHub's REST API (an exit edge, through octocrab): the sticky PR comment found by its hidden
//! marker across every page of comments and updated in place, and the pull requests of a commit.
//!
//! Facts this rests on (see shared/reference/rust-deps.md §7):
//! - octocrab's retry middleware would resend a POST after a 5xx and duplicate a comment, so it is
//!   not compiled in (the `retry` feature is off: no retry layer at all, as `RetryConfig::None`);
//!   a failed write is tried again only after listing the comments again, so a POST that went
//!   through despite its error becomes a PATCH, never a second comment.
//! - `update_comment` sends POST; the exact `PATCH /repos/{o}/{r}/issues/comments/{id}` is sent
//!   by hand. Bodies are read as JSON values: the typed models reject partial answers.
//! - `Link: rel="next"` pages are followed by their path on the configured base (GHES keeps its
//!   `/api/v3`), and only when the link is on that host: the token never goes anywhere else.

use std::time::Duration;

use http::{HeaderMap, StatusCode, Uri};
use octocrab::Octocrab;
use serde_json::{Value, json};

use crate::action::context::Repository;

/// A request that failed: GitHub's answer, or no answer at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("GitHub answered {status} to {method} {path}: {message}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
        documentation_url: Option<String>,
    },
    #[error("{method} {path}: {message}")]
    Transport {
        method: &'static str,
        path: String,
        message: String,
    },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            ApiError::Transport { .. } => None,
        }
    }

    /// The token may not do this: a read-only token (fork PRs, no `pull-requests: write`).
    pub fn is_forbidden(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// Worth another try (after re-reading): no answer, a 5xx, or 429.
    pub fn is_transient(&self) -> bool {
        match self.status() {
            None => true,
            Some(s) => s >= 500 || s == 429,
        }
    }
}

/// An issue (or PR) comment, as far as upcycle reads one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: u64,
    pub body: String,
    pub html_url: Option<String>,
}

impl IssueComment {
    fn from_json(v: &Value) -> Option<IssueComment> {
        Some(IssueComment {
            id: v.get("id")?.as_u64()?,
            body: v.get("body").and_then(Value::as_str).unwrap_or("").into(),
            html_url: v.get("html_url").and_then(Value::as_str).map(Into::into),
        })
    }
}

/// What [`GitHub::upsert_comment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    Created(IssueComment),
    Updated(IssueComment),
}

impl Upserted {
    pub fn comment(&self) -> &IssueComment {
        match self {
            Upserted::Created(c) | Upserted::Updated(c) => c,
        }
    }
}

/// A pull request a commit belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRef {
    pub number: u64,
    pub state: String,
    pub base_ref: String,
    pub head_sha: String,
    pub html_url: Option<String>,
}

/// A client for one repository.
pub struct GitHub {
    client: Octocrab,
    base: Uri,
    repo: Repository,
    /// Pause before trying a failed upsert again (after re-listing).
    pub backoff: Duration,
    /// Tries of an upsert (list, then write) when a write fails transiently.
    pub attempts: u32,
}

fn describe(e: &octocrab::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// The URL of the `rel="next"` link, if any.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

impl GitHub {
    /// A client for `repo` at `api_url` (`GITHUB_API_URL`: api.github.com or `https://HOST/api/v3`).
    pub fn new(api_url: &str, token: &str, repo: Repository) -> anyhow::Result<GitHub> {
        let base: Uri = api_url
            .parse()
            .map_err(|e| anyhow::anyhow!("GITHUB_API_URL {api_url}: {e}"))?;
        let client = Octocrab::builder()
            .base_uri(base.clone())
            .map_err(|e| anyhow::anyhow!("GITHUB_API_URL {api_url}: {}", describe(&e)))?
            .personal_token(token.to_string())
            .add_header(
                http::header::ACCEPT,
                "application/vnd.github+json".to_string(),
            )
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| anyhow::anyhow!("the GitHub client: {}", describe(&e)))?;
        Ok(GitHub {
            client,
            base,
            repo,
            backoff: Duration::from_secs(2),
            attempts: 3,
        })
    }

    fn repo_path(&self) -> String {
        format!("/repos/{}/{}", self.repo.owner, self.repo.name)
    }

    /// One request; `path` is relative to the base (query included). Success gives the headers
    /// and the JSON body.
    async fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(HeaderMap, Value), ApiError> {
        let transport = |message: String| ApiError::Transport {
            method,
            path: path.to_string(),
            message,
        };
        let response = match method {
            "GET" => self.client._get(path).await,
            "POST" => self.client._post(path, body).await,
            "PATCH" => self.client._patch(path, body).await,
            _ => return Err(transport("unsupported method".into())),
        }
        .map_err(|e| transport(describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = self
            .client
            .body_to_string(response)
            .await
            .map_err(|e| transport(describe(&e)))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    let t = text.trim();
                    if t.is_empty() {
                        status.canonical_reason().unwrap_or("error").to_string()
                    } else {
                        t.chars().take(200).collect()
                    }
                });
            let details: Vec<&str> = value
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .collect();
            return Err(ApiError::Status {
                method,
                path: path.to_string(),
                status: status.as_u16(),
                message: if details.is_empty() {
                    message
                } else {
                    format!("{message} ({})", details.join("; "))
                },
                documentation_url: value
                    .get("documentation_url")
                    .and_then(Value::as_str)
                    .map(Into::into),
            });
        }
        if status == StatusCode::NO_CONTENT {
            return Ok((headers, Value::Null));
        }
        Ok((headers, value))
    }

    /// Every item of a paginated list, following `Link: rel="next"` to the end. A next link to
    /// another host is refused (the token must not leave the configured API).
    async fn get_all(&self, first: &str) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut path = first.to_string();
        for _ in 0..1000 {
            let (headers, page) = self.send("GET", &path, None).await?;
            match page {
                Value::Array(mut page) => items.append(&mut page),
                other => {
                    return Err(ApiError::Transport {
                        method: "GET",
                        path,
                        message: format!(
                            "expected a JSON list, got {}",
                            other.to_string().chars().take(80).collect::<String>()
                        ),
                    });
                }
            }
            let Some(next) = next_link(&headers) else {
                return Ok(items);
            };
            path = self.relative(&next).ok_or_else(|| ApiError::Transport {
                method: "GET",
                path: path.clone(),
                message: format!("the next page {next} is not on {}", self.base),
            })?;
        }
        Ok(items)
    }

    /// The path and query of `url` when it is on the base's scheme and host.
    fn relative(&self, url: &str) -> Option<String> {
        let uri: Uri = url.parse().ok()?;
        if uri.scheme().is_none() {
            return Some(uri.path_and_query()?.to_string());
        }
        (uri.scheme() == self.base.scheme() && uri.authority() == self.base.authority())
            .then(|| uri.path_and_query().map(ToString::to_string))
            .flatten()
    }

    /// Every comment of issue or PR `number`, all pages (100 a page).
    pub async fn comments(&self, number: u64) -> Result<Vec<IssueComment>, ApiError> {
        let path = format!("{}/issues/{number}/comments?per_page=100", self.repo_path());
        Ok(self
            .get_all(&path)
            .await?
            .iter()
            .filter_map(IssueComment::from_json)
            .collect())
    }

    /// The first comment of `number` that carries `marker`.
    pub async fn find_comment(
        &self,
        number: u64,
        marker: &str,
    ) -> Result<Option<IssueComment>, ApiError> {
        Ok(self
            .comments(number)
            .await?
            .into_iter()
            .find(|c| c.body.contains(marker)))
    }

    pub async fn create_comment(&self, number: u64, body: &str) -> Result<IssueComment, ApiError> {
        let path = format!("{}/issues/{number}/comments", self.repo_path());
        let (_, v) = self
            .send("POST", &path, Some(&json!({ "body": body })))
            .await?;
        IssueComment::from_json(&v).ok_or_else(|| unreadable("POST", &path))
    }

    /// `PATCH /repos/{o}/{r}/issues/comments/{id}`.
    pub async fn update_comment(&self, id: u64, body: &str) -> Result<IssueComment, ApiError> {
        let path = format!("{}/issues/comments/{id}", self.repo_path());
        let (_, v) = self
            .send("PATCH", &path, Some(&json!({ "body": body })))
            .await?;
        IssueComment::from_json(&v).ok_or_else(|| unreadable("PATCH", &path))
    }

    /// The one comment of `number` carrying `marker` gets `body` (which must contain the marker):
    /// updated in place when it exists, created only when no page holds it. A failed write is
    /// tried again only after listing again, so a write that went through is never repeated.
    pub async fn upsert_comment(
        &self,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<Upserted, ApiError> {
        let mut attempt = 1;
        loop {
            let result = match self.find_comment(number, marker).await {
                Ok(Some(existing)) => self
                    .update_comment(existing.id, body)
                    .await
                    .map(Upserted::Updated),
                Ok(None) => self
                    .create_comment(number, body)
                    .await
                    .map(Upserted::Created),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.is_transient() && attempt < self.attempts => {
                    tokio::time::sleep(self.backoff * attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The pull requests `sha` belongs to (`GET /repos/{o}/{r}/commits/{sha}/pulls`), for
    /// reporting a deploy back to the PR that introduced it.
    pub async fn pulls_of_commit(&self, sha: &str) -> Result<Vec<PullRef>, ApiError> {
        let path = format!("{}/commits/{sha}/pulls?per_page=100", self.repo_path());
        Ok(self
            .get_all(&path)
            .await?
            .iter()
            .filter_map(|v| {
                Some(PullRef {
                    number: v.get("number")?.as_u64()?,
                    state: v.get("state")?.as_str()?.into(),
                    base_ref: v.pointer("/base/ref")?.as_str()?.into(),
                    head_sha: v.pointer("/head/sha")?.as_str()?.into(),
                    html_url: v.get("html_url").and_then(Value::as_str).map(Into::into),
                })
            })
            .collect())
    }
}

fn unreadable(method: &'static str, path: &str) -> ApiError {
    ApiError::Transport {
        method,
        path: path.to_string(),
        message: "the answer is not a comment".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_the_others() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            "<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=1>; rel=\"prev\", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3>; rel=\"next\", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=5>; rel=\"last\""
                .parse()
                .expect("header"),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn errors_say_whether_to_try_again() {
        let e = |status| ApiError::Status {
            method: "POST",
            path: "/x".into(),
            status,
            message: "m".into(),
            documentation_url: None,
        };
        assert!(e(403).is_forbidden() && !e(403).is_transient());
        assert!(e(502).is_transient() && !e(422).is_transient());
        assert_eq!(e(404).to_string(), "GitHub answered 404 to POST /x: m");
    }
}
