//! Source positions inside a policy document, so findings and matched statements can point at text.

use serde::{Deserialize, Serialize};

/// A position in the policy text: 1-based line and column (in characters), 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Position {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters (not bytes).
    pub column: u32,
    /// 0-based byte offset into the text.
    pub offset: u32,
}

/// A half-open range of the policy text: `start` is the first character, `end` the one after the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    /// First character.
    pub start: Position,
    /// One past the last character.
    pub end: Position,
}

/// Maps byte offsets to line and column.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, line_starts }
    }

    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.line_starts[line];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(offset - line_start, |s| s.chars().count());
        Position {
            line: to_u32(line + 1),
            column: to_u32(column + 1),
            offset: to_u32(offset),
        }
    }

    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start: self.position(start),
            end: self.position(end),
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let index = LineIndex::new("{\n  \"é\": 1\n}");
        assert_eq!(
            index.position(0),
            Position {
                line: 1,
                column: 1,
                offset: 0
            }
        );
        assert_eq!(
            index.position(2),
            Position {
                line: 2,
                column: 1,
                offset: 2
            }
        );
        // "é" is two bytes: the colon after the closing quote is the 6th character of line 2.
        assert_eq!(index.position(8).column, 6);
        assert_eq!(index.position(13).line, 3);
    }
}
