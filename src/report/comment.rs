//! The PR comment: a hidden marker that finds it again on the next run, and a body that fits
//! GitHub's limit of 65,536 characters by degrading in steps: the diffs go first, then the
//! migrations table, then findings beyond those that fit, and last everything but the summary
//! and a link to the run. Pure: [`fit`] is the whole policy.

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_BUDGET: usize = 65_536;

/// The hidden marker of the comment of `kind` (check, plan, apply) for `key` (the migration
/// folder, and the environment for plans and deploys): `<!-- upcycle:check:db/migrations -->`.
/// Characters that could end the HTML comment or break the match become `_`.
pub fn marker(kind: &str, key: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || "._/@+-,=".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("<!-- upcycle:{}:{} -->", safe(kind), safe(key))
}

/// A report's markdown in the pieces [`fit`] may drop. Concatenated in order they are the full
/// report (what `--format markdown` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentParts {
    /// The hidden marker line (empty outside a PR comment).
    pub marker: String,
    /// Verdict heading and context line: always kept.
    pub summary: String,
    /// The migrations table.
    pub table: String,
    /// The heading of the findings (printed only when there are findings).
    pub findings_heading: String,
    /// One line per finding, most severe first.
    pub findings: Vec<String>,
    /// Collapsed details: schema diffs.
    pub details: String,
    /// How to reproduce locally.
    pub footer: String,
    /// Where the full report is, as markdown (`[the job summary of run 42](…)`).
    pub full_report: Option<String>,
}

impl CommentParts {
    /// Every part, in order.
    pub fn full(&self) -> String {
        self.render(&Cut {
            table: true,
            details: true,
            findings: self.findings.len(),
            footer: true,
        })
    }

    fn render(&self, cut: &Cut) -> String {
        let mut out = String::new();
        if !self.marker.is_empty() {
            out.push_str(&self.marker);
            out.push('\n');
        }
        out.push_str(&self.summary);
        let mut left_out = Vec::new();
        if !cut.details && !self.details.is_empty() {
            left_out.push("the schema diffs");
        }
        if !cut.table && !self.table.is_empty() {
            left_out.push("the migrations table");
        }
        if !left_out.is_empty() {
            out.push_str(&format!(
                "\n\n> {} left out to fit GitHub's comment limit; the full report is in {}.",
                capitalize(&left_out.join(" and ")),
                self.where_full()
            ));
        }
        if cut.table {
            out.push_str(&self.table);
        }
        if !self.findings.is_empty() {
            out.push_str(&self.findings_heading);
            for line in self.findings.iter().take(cut.findings) {
                out.push_str(line);
            }
            let more = self.findings.len() - cut.findings.min(self.findings.len());
            if more > 0 {
                out.push_str(&format!(
                    "- … and {more} more finding(s) in {}\n",
                    self.where_full()
                ));
            }
        }
        if cut.details {
            out.push_str(&self.details);
        }
        if cut.footer {
            out.push_str(&self.footer);
        }
        out
    }

    fn where_full(&self) -> String {
        self.full_report
            .clone()
            .unwrap_or_else(|| "the job summary of this run".into())
    }

    /// The last step: the summary and where the full report is.
    fn summary_only(&self) -> String {
        let mut out = String::new();
        if !self.marker.is_empty() {
            out.push_str(&self.marker);
            out.push('\n');
        }
        out.push_str(&self.summary);
        out.push_str(&format!(
            "\n\nThe full report is too long for a comment: it is in {}.\n",
            self.where_full()
        ));
        out
    }
}

/// What a degradation step keeps.
struct Cut {
    table: bool,
    details: bool,
    findings: usize,
    footer: bool,
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().collect::<String>() + chars.as_str()
    })
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The comment body for `parts` in at most `budget` characters: the full report when it fits,
/// else without the diffs, then without the migrations table, then with only the findings that
/// fit, then the summary and a link to the full report; cut hard only if even that is too long.
pub fn fit(parts: &CommentParts, budget: usize) -> String {
    let all = parts.findings.len();
    let steps = [
        Cut {
            table: true,
            details: true,
            findings: all,
            footer: true,
        },
        Cut {
            table: true,
            details: false,
            findings: all,
            footer: true,
        },
        Cut {
            table: false,
            details: false,
            findings: all,
            footer: true,
        },
    ];
    for cut in &steps {
        let body = parts.render(cut);
        if chars(&body) <= budget {
            return body;
        }
    }
    // As many findings as fit (the "… and N more" line included), most severe first.
    let mut fewest = Cut {
        table: false,
        details: false,
        findings: 0,
        footer: true,
    };
    let base = chars(&parts.render(&fewest));
    if base <= budget {
        let mut used = base;
        for line in &parts.findings {
            // Room for this line; the "… and N more" line is already counted in `base`.
            if used + chars(line) > budget {
                break;
            }
            used += chars(line);
            fewest.findings += 1;
        }
        if fewest.findings > 0 {
            let body = parts.render(&fewest);
            if chars(&body) <= budget {
                return body;
            }
        }
    }
    let body = parts.summary_only();
    if chars(&body) <= budget {
        return body;
    }
    body.chars().take(budget).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(findings: usize, details: usize) -> CommentParts {
        CommentParts {
            marker: marker("check", "migrations"),
            summary: "### ❌ upcycle check: 1 failed".into(),
            table: "\n\n| version |\n|---|\n| 1 |\n".into(),
            findings_heading: "\n#### Findings\n\n".into(),
            findings: (0..findings)
                .map(|i| format!("- **error** finding {i}\n"))
                .collect(),
            details: format!(
                "\n<details><summary>diff</summary>\n\n{}\n</details>\n",
                "x".repeat(details)
            ),
            footer: "\nReproduce locally: `upcycle check`\n".into(),
            full_report: Some(
                "[the job summary of run 7](https://github.com/o/r/actions/runs/7)".into(),
            ),
        }
    }

    #[test]
    fn markers_are_one_per_kind_and_key_and_cannot_be_closed_early() {
        assert_eq!(
            marker("check", "db/migrations"),
            "<!-- upcycle:check:db/migrations -->"
        );
        assert_eq!(
            marker("plan", "migrations@prod -->x"),
            "<!-- upcycle:plan:migrations@prod_--_x -->"
        );
    }

    #[test]
    fn a_report_that_fits_is_kept_whole() {
        let p = parts(3, 10);
        assert_eq!(fit(&p, COMMENT_BUDGET), p.full());
        assert!(
            p.full()
                .starts_with("<!-- upcycle:check:migrations -->\n### ❌")
        );
    }

    #[test]
    fn diffs_go_first() {
        let p = parts(3, 1000);
        let body = fit(&p, chars(&p.full()) - 1);
        assert!(!body.contains("<details>"), "{body}");
        assert!(body.contains("| 1 |"), "the table stays: {body}");
        assert!(body.contains("finding 2"));
        assert!(body.contains("> The schema diffs left out to fit GitHub's comment limit; the full report is in [the job summary of run 7]"));
    }

    #[test]
    fn then_the_table() {
        let p = parts(3, 1000);
        let without_diffs = p.render(&Cut {
            table: true,
            details: false,
            findings: 3,
            footer: true,
        });
        let body = fit(&p, chars(&without_diffs) - 1);
        assert!(!body.contains("| 1 |"), "{body}");
        assert!(body.contains("The schema diffs and the migrations table left out"));
        assert!(body.contains("finding 2"));
        assert!(body.contains("Reproduce locally"));
    }

    #[test]
    fn then_the_findings_that_do_not_fit() {
        let p = parts(1000, 10);
        let budget = 2000;
        let body = fit(&p, budget);
        assert!(chars(&body) <= budget, "{}", chars(&body));
        assert!(body.contains("finding 0\n"));
        assert!(!body.contains("finding 999\n"));
        assert!(body.contains("more finding(s) in [the job summary of run 7]"));
        assert!(body.starts_with("<!-- upcycle:check:migrations -->"));
    }

    #[test]
    fn then_only_the_summary_and_the_link() {
        let p = parts(5, 10);
        let body = fit(&p, 260);
        assert_eq!(
            body,
            "<!-- upcycle:check:migrations -->\n### ❌ upcycle check: 1 failed\n\nThe full report is too long for a comment: it is in [the job summary of run 7](https://github.com/o/r/actions/runs/7).\n"
        );
        assert!(
            chars(&fit(&p, 20)) <= 20,
            "a hard cut as the very last resort"
        );
    }

    #[test]
    fn the_budget_holds_at_every_size() {
        let p = parts(200, 5000);
        for budget in (0..chars(&p.full()) + 10).step_by(97) {
            assert!(chars(&fit(&p, budget)) <= budget, "budget {budget}");
        }
    }
}
