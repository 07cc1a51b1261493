//! The lines a check's jobs print, in the set's order: a job hands over a migration's lines once
//! it has proved it, and they print when every migration before it has printed. After a failed
//! up nothing more prints, as nothing after it counts.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::term::Term;

/// A line about one migration: a progress line, or a detail (`-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub detail: bool,
    pub text: String,
}

/// Lines waiting for the migrations before theirs.
#[derive(Default)]
struct Order {
    /// The first migration whose lines have not printed.
    next: usize,
    /// Handed over early: the lines, and whether the migration's up failed.
    ready: BTreeMap<usize, (Vec<Line>, bool)>,
    /// A failed up printed: what comes after is dropped.
    closed: bool,
}

pub(super) struct Progress<'a> {
    term: &'a Term,
    order: Mutex<Order>,
}

impl<'a> Progress<'a> {
    pub fn new(term: &'a Term) -> Self {
        Progress {
            term,
            order: Mutex::new(Order::default()),
        }
    }

    /// Migration `k` is proved (`stopped`: its up failed); prints its lines and those of the
    /// migrations after it that are proved, once every one before it has printed.
    pub fn proved(&self, k: usize, lines: Vec<Line>, stopped: bool) {
        let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        for line in order.hand(k, lines, stopped) {
            if line.detail {
                self.term.detail(&line.text);
            } else {
                self.term.progress(&line.text);
            }
        }
    }
}

impl Order {
    /// Takes migration `k`'s lines; returns those that print now, in order.
    fn hand(&mut self, k: usize, lines: Vec<Line>, stopped: bool) -> Vec<Line> {
        let mut out = Vec::new();
        if self.closed || k < self.next {
            return out;
        }
        self.ready.insert(k, (lines, stopped));
        while let Some((lines, stopped)) = self.ready.remove(&self.next) {
            out.extend(lines);
            self.next += 1;
            if stopped {
                self.closed = true;
                self.ready.clear();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Vec<Line> {
        vec![Line {
            detail: false,
            text: text.into(),
        }]
    }

    fn texts(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn lines_print_in_the_sets_order() {
        let mut order = Order::default();
        assert_eq!(texts(order.hand(0, line("a"), false)), ["a"]);
        // A later job's lines wait for the migrations before them.
        assert!(order.hand(2, line("c"), false).is_empty());
        assert!(order.hand(3, Vec::new(), false).is_empty());
        assert_eq!(texts(order.hand(1, line("b"), false)), ["b", "c"]);
        assert_eq!(texts(order.hand(4, line("e"), false)), ["e"]);
    }

    #[test]
    fn nothing_prints_after_a_failed_up() {
        let mut order = Order::default();
        assert!(order.hand(2, line("later"), false).is_empty());
        assert!(order.hand(1, line("failed"), true).is_empty());
        assert_eq!(
            texts(order.hand(0, line("first"), false)),
            ["first", "failed"]
        );
        assert!(order.hand(3, line("after"), false).is_empty());
    }
}
