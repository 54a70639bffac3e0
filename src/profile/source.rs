//! The profile's text before serde_yaml reads it: bounds, the YAML features a profile never needs, and an
//! outline of where each field stands.
//!
//! serde_yaml (libyaml) parses deeply nested flow collections in quadratic time (100 KB of `[` took 5 s)
//! and silently drops tags (`domain: !evil x`, `server: !!python/object:...`), so this linear scan runs
//! first and refuses what would be slow or misleading: more than [`MAX_DEPTH`] levels of nesting, tags,
//! anchors and aliases, tabs in the indentation, and a second document. It is not a YAML parser: it
//! follows quotes, comments, flow brackets, block scalars and indentation well enough to find where each
//! node starts; serde_yaml still decides what the text means. On the way it records the dotted field of
//! each block-style key and list item with its line ([`Outline`]), which errors from every later stage use
//! to name the field and the line.

/// The largest profile jprov reads; the examples are about 1.5 KiB.
pub const MAX_BYTES: usize = 64 * 1024;
/// The deepest nesting of mappings and lists; a profile needs 4 (`tls.self_signed.addresses[0]`).
pub const MAX_DEPTH: usize = 32;

/// What the scan refused, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub field: Option<String>,
    pub message: String,
}

/// Where each block-style key and list item starts, by dotted field (`server.port`,
/// `tls.self_signed.addresses[1]`), in the order they appear.
#[derive(Debug, Default)]
pub struct Outline {
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    path: String,
    line: usize,
    column: usize,
    /// Its value is a flow collection on the same line (`addresses: [a, b]`): items have no line of their
    /// own and are located at their key.
    flow: bool,
}

impl Outline {
    /// The line and column of a field; an item of a flow list is at its key.
    pub fn locate(&self, field: &str) -> Option<(usize, usize)> {
        if let Some(node) = self.nodes.iter().find(|n| n.path == field) {
            return Some((node.line, node.column));
        }
        let list = field.strip_suffix(']')?.rsplit_once('[')?.0;
        self.nodes
            .iter()
            .find(|n| n.path == list && n.flow)
            .map(|n| (n.line, n.column))
    }

    /// The second key of that name in the same mapping: where a duplicate stands.
    pub fn locate_duplicate(&self, field: &str) -> Option<(usize, usize)> {
        self.nodes
            .iter()
            .filter(|n| n.path == field)
            .nth(1)
            .map(|n| (n.line, n.column))
    }

    /// The innermost field that starts on `line`, if one does.
    pub fn field_on(&self, line: usize) -> Option<String> {
        self.nodes
            .iter()
            .rev()
            .find(|n| n.line == line)
            .map(|n| n.path.clone())
    }
}

/// A key shown in messages and field paths: one that looks like a field name (or a typo of one), so that
/// a hash or a password written as a key is not.
pub fn is_field_name(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Scan the whole text. The outline covers what was scanned, also when a problem stopped the scan.
pub fn scan(source: &str) -> (Outline, Result<(), Problem>) {
    let mut scanner = Scanner::default();
    let mut result = Ok(());
    for (index, text) in source.split('\n').enumerate() {
        if let Err(problem) = scanner.line(index + 1, text.strip_suffix('\r').unwrap_or(text)) {
            result = Err(problem);
            break;
        }
    }
    (scanner.outline, result)
}

const TAGS: &str =
    "YAML tags (`!...`) are not allowed in a profile: remove the tag; every value is a \
                    plain string, number, list or mapping";
const ANCHORS: &str = "YAML anchors (`&name`) are not allowed in a profile: write the value out";
const ALIASES: &str = "YAML aliases (`*name`) are not allowed in a profile: write the value out";
const TAB: &str = "a tab in the indentation: indent with spaces";
const SECOND_DOCUMENT: &str =
    "a second YAML document starts here: a profile is one document (remove this and what follows)";

#[derive(Debug, Default)]
struct Scanner {
    outline: Outline,
    /// Open block mappings' keys and block lists' items, outermost first.
    blocks: Vec<Block>,
    /// Open `[` and `{`.
    flow: usize,
    /// A quoted scalar continues on the next line.
    quote: Option<char>,
    /// Inside a multi-line flow collection, whether the next token starts a node.
    flow_expects_node: bool,
    /// Lines of a `|` or `>` scalar are those indented more than this.
    block_scalar: Option<usize>,
    /// The last scalar read in block context and its column: the key, if a `:` follows.
    last_scalar: Option<(usize, String)>,
    /// Something other than comments and directives was seen (a `---` then starts a second document).
    content: bool,
    /// A `...` ended the document.
    ended: bool,
    line: usize,
    /// The current line's indentation.
    indent: usize,
    /// Tabs in the current line's indentation, which are not indentation to YAML: a refused line still
    /// belongs to the field its spaces say.
    tabs: usize,
}

#[derive(Debug)]
struct Block {
    indent: usize,
    segment: Segment,
    /// A key whose value starts on a later line (it may be a list at the key's own indentation).
    open: bool,
}

#[derive(Debug)]
enum Segment {
    Key(String),
    Item(usize),
}

/// What the scan expects next on a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The start of a node: a scalar, a collection, an indicator.
    Node,
    /// What may follow a scalar: `:`, `,`, a closing bracket, a comment.
    After,
    /// Nothing more on this line is of interest.
    Done,
}

/// One line's characters and a position in them.
struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }
    /// The character at `offset` is a space, a tab, or the end of the line.
    fn blank_at(&self, offset: usize) -> bool {
        self.at(offset).map_or(true, |c| c == ' ' || c == '\t')
    }
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }
    /// Only blanks and possibly a comment are left.
    fn rest_is_empty(&self) -> bool {
        let rest = &self.chars[self.pos.min(self.chars.len())..];
        let first = rest.iter().position(|c| *c != ' ' && *c != '\t');
        first.map_or(true, |i| rest[i] == '#')
    }
}

impl Scanner {
    fn problem(&self, column: usize, message: impl Into<String>) -> Problem {
        Problem {
            line: self.line,
            column: column + 1,
            field: self.path(),
            message: message.into(),
        }
    }

    /// Not in any field: the first document has ended.
    fn second_document(&self, column: usize) -> Problem {
        Problem {
            field: None,
            ..self.problem(column, SECOND_DOCUMENT)
        }
    }

    /// The dotted field of the innermost open block, up to the first key that does not look like a field
    /// name (that may be a secret typed as a key: it is never shown).
    fn path(&self) -> Option<String> {
        let (path, _) = self.path_shown();
        (!path.is_empty()).then_some(path)
    }

    /// The dotted field as far as it can be shown, and whether that is all of it.
    fn path_shown(&self) -> (String, bool) {
        let mut path = String::new();
        for block in &self.blocks {
            match &block.segment {
                Segment::Key(key) if !is_field_name(key) => return (path, false),
                Segment::Key(key) if path.is_empty() => path.push_str(key),
                Segment::Key(key) => {
                    path.push('.');
                    path.push_str(key);
                }
                Segment::Item(index) => path.push_str(&format!("[{index}]")),
            }
        }
        (path, true)
    }

    fn line(&mut self, number: usize, text: &str) -> Result<(), Problem> {
        self.line = number;
        let mut cur = Cursor {
            chars: text.chars().collect(),
            pos: 0,
        };
        let leading = cur.chars.iter().take_while(|c| **c == ' ' || **c == '\t');
        let indent = leading.count();
        let blank = cur.chars.get(indent).is_none();
        let blank_or_comment = blank || cur.chars[indent] == '#';
        self.last_scalar = None;
        if let Some(parent) = self.block_scalar {
            if blank || indent > parent {
                return Ok(());
            }
            self.block_scalar = None;
        }
        if let Some(quote) = self.quote {
            // A quoted scalar's continuation: its leading blanks are content, not indentation.
            if !self.quoted(&mut cur, quote) {
                return Ok(());
            }
            self.quote = None;
            return self.tokens(&mut cur, Expect::After);
        }
        if blank_or_comment {
            return Ok(());
        }
        let tab = cur.chars[..indent].iter().position(|c| *c == '\t');
        self.tabs = cur.chars[..indent].iter().filter(|c| **c == '\t').count();
        cur.pos = indent;
        let result = if self.flow > 0 {
            let expect = if self.flow_expects_node {
                Expect::Node
            } else {
                Expect::After
            };
            self.tokens(&mut cur, expect)
        } else {
            self.block_line(&mut cur, indent)
        };
        result?;
        match tab {
            Some(column) => Err(self.problem(column, TAB)),
            None => Ok(()),
        }
    }

    /// A line in block context: document markers and directives, then its nodes.
    fn block_line(&mut self, cur: &mut Cursor, indent: usize) -> Result<(), Problem> {
        self.indent = indent;
        if indent == 0 {
            let marker: String = cur.chars.iter().take(3).collect();
            let is_marker = cur.blank_at(3);
            if is_marker && marker == "---" {
                if self.content || self.ended {
                    return Err(self.second_document(0));
                }
                cur.pos = 3;
                self.content = !cur.rest_is_empty();
                return self.tokens(cur, Expect::Node);
            }
            if is_marker && marker == "..." {
                self.ended = self.content;
                return Ok(());
            }
            if cur.chars[0] == '%' && !self.content {
                return Ok(()); // a directive (%YAML 1.2)
            }
        }
        if self.ended {
            return Err(self.second_document(indent));
        }
        self.content = true;
        self.tokens(cur, Expect::Node)
    }

    /// Read a line's tokens from `expect` on.
    fn tokens(&mut self, cur: &mut Cursor, mut expect: Expect) -> Result<(), Problem> {
        loop {
            let before = cur.pos;
            cur.skip_blanks();
            let Some(c) = cur.peek() else { break };
            if c == '#' && (cur.pos == 0 || cur.pos > before || expect == Expect::Node) {
                break; // a comment
            }
            expect = match expect {
                Expect::Node => self.node(cur)?,
                Expect::After => self.after_scalar(cur)?,
                Expect::Done => break,
            };
        }
        if self.flow > 0 {
            self.flow_expects_node = expect == Expect::Node;
        }
        Ok(())
    }

    /// At the start of a node.
    fn node(&mut self, cur: &mut Cursor) -> Result<Expect, Problem> {
        let column = cur.pos;
        let c = cur.peek().expect("not at the end");
        let block = self.flow == 0;
        match c {
            '!' => return Err(self.problem(column, TAGS)),
            '&' => return Err(self.problem(column, ANCHORS)),
            '*' => return Err(self.problem(column, ALIASES)),
            '|' | '>' if block => {
                self.block_scalar = Some(self.indent);
                return Ok(Expect::Done);
            }
            '-' if block && cur.blank_at(1) => {
                self.open(column, Segment::Item(0), false)?;
                cur.pos += 1;
                return Ok(Expect::Node);
            }
            '?' if block && cur.blank_at(1) => {
                self.open(column, Segment::Key("?".into()), false)?;
                cur.pos += 1;
                return Ok(Expect::Node);
            }
            '[' | '{' => {
                if block {
                    self.mark_flow_value();
                }
                self.flow += 1;
                self.check_depth(column)?;
                cur.pos += 1;
                return Ok(Expect::Node);
            }
            ']' | '}' if !block => {
                self.flow -= 1;
                cur.pos += 1;
                return Ok(Expect::After);
            }
            ',' if !block => {
                cur.pos += 1;
                return Ok(Expect::Node);
            }
            _ => {}
        }
        let text = if c == '"' || c == '\'' {
            cur.pos += 1;
            let start = cur.pos;
            if !self.quoted(cur, c) {
                self.quote = Some(c);
                return Ok(Expect::Done);
            }
            cur.chars[start..cur.pos - 1].iter().collect()
        } else {
            self.plain(cur)
        };
        if block {
            self.last_scalar = Some((column, text));
        }
        Ok(Expect::After)
    }

    /// Read a quoted scalar up to its closing quote; false if it continues on the next line.
    fn quoted(&mut self, cur: &mut Cursor, quote: char) -> bool {
        while let Some(c) = cur.peek() {
            match c {
                '\\' if quote == '"' => cur.pos += 2,
                '\'' if quote == '\'' && cur.at(1) == Some('\'') => cur.pos += 2,
                c if c == quote => {
                    cur.pos += 1;
                    return true;
                }
                _ => cur.pos += 1,
            }
        }
        false
    }

    /// Read a plain scalar; it ends before `: `, ` #`, and in flow context before `,[]{}`.
    fn plain(&mut self, cur: &mut Cursor) -> String {
        let start = cur.pos;
        let flow = self.flow > 0;
        while let Some(c) = cur.peek() {
            let ends = match c {
                ':' => {
                    cur.blank_at(1)
                        || (flow && matches!(cur.at(1), Some(',' | '[' | ']' | '{' | '}')))
                }
                '#' => matches!(cur.chars.get(cur.pos.wrapping_sub(1)), Some(' ' | '\t')),
                ',' | '[' | ']' | '{' | '}' => flow,
                _ => false,
            };
            if ends {
                break;
            }
            cur.pos += 1;
        }
        let text: String = cur.chars[start..cur.pos].iter().collect();
        text.trim_end().to_string()
    }

    /// After a scalar: a `:` makes it a key; in flow context `,` and closing brackets follow.
    fn after_scalar(&mut self, cur: &mut Cursor) -> Result<Expect, Problem> {
        let block = self.flow == 0;
        match cur.peek() {
            Some(':') if cur.blank_at(1) || !block => {
                cur.pos += 1;
                if let Some((column, key)) = self.last_scalar.take().filter(|_| block) {
                    let open = cur.rest_is_empty();
                    self.open(column, Segment::Key(key), open)?;
                }
                Ok(Expect::Node)
            }
            Some(',') if !block => {
                cur.pos += 1;
                Ok(Expect::Node)
            }
            Some(']' | '}') if !block => {
                self.flow -= 1;
                cur.pos += 1;
                Ok(Expect::After)
            }
            // Anything else is for serde_yaml to judge.
            _ => Ok(Expect::Done),
        }
    }

    /// A key or list item starts at `column`: close the blocks it ends, then open it.
    fn open(&mut self, column: usize, segment: Segment, open: bool) -> Result<(), Problem> {
        let item = matches!(segment, Segment::Item(_));
        let indent = column - self.tabs.min(column);
        while let Some(top) = self.blocks.last_mut() {
            if top.indent < indent {
                break;
            }
            if top.indent == indent {
                match top.segment {
                    Segment::Item(ref mut index) if item => {
                        *index += 1;
                        self.record(column);
                        return Ok(());
                    }
                    // `key:` followed by `- item` lines at the key's own indentation.
                    Segment::Key(_) if item && top.open => break,
                    _ => {}
                }
            }
            self.blocks.pop();
        }
        self.blocks.push(Block {
            indent,
            segment,
            open,
        });
        self.check_depth(column)?;
        self.record(column);
        Ok(())
    }

    fn record(&mut self, column: usize) {
        if let (path, true) = self.path_shown() {
            self.outline.nodes.push(Node {
                path,
                line: self.line,
                column: column + 1,
                flow: false,
            });
        }
    }

    /// The key just read has a flow collection as its value on the same line.
    fn mark_flow_value(&mut self) {
        let (path, line) = (self.path(), self.line);
        if let Some(node) = self.outline.nodes.last_mut() {
            if node.line == line && Some(&node.path) == path.as_ref() {
                node.flow = true;
            }
        }
    }

    fn check_depth(&self, column: usize) -> Result<(), Problem> {
        if self.blocks.len() + self.flow <= MAX_DEPTH {
            return Ok(());
        }
        let message = format!(
            "nested more than {MAX_DEPTH} levels deep (the limit; a profile needs 4): jprov stops here \
             rather than parse it"
        );
        // Named by the top-level field it is under: the full path would be no field of a profile.
        let field = match self.blocks.first() {
            Some(Block {
                segment: Segment::Key(key),
                ..
            }) if is_field_name(key) => Some(key.clone()),
            _ => None,
        };
        Err(Problem {
            field,
            ..self.problem(column, message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(source: &str) -> Problem {
        scan(source).1.expect_err("the scan should refuse this")
    }

    #[test]
    fn outlines_block_keys_and_items() {
        let src = "a:\n  b: 1\nc:\n  # note\n  b: 2\n  d:\n    e: 3\n";
        let (outline, ok) = scan(src);
        ok.unwrap();
        assert_eq!(outline.locate("c.b"), Some((5, 3)));
        assert_eq!(outline.locate("c.d.e"), Some((7, 5)));
        assert_eq!(outline.locate("a.d"), None);
        let src = "a:\n  l: [1, 2]\n  m:\n    - 1\n    # note\n    - 2\n  n:\n  - 3\nb: 4\n";
        let (outline, ok) = scan(src);
        ok.unwrap();
        assert_eq!(outline.locate("a.l[1]"), Some((2, 3)));
        assert_eq!(outline.locate("a.m[0]"), Some((4, 5)));
        assert_eq!(outline.locate("a.m[1]"), Some((6, 5)));
        assert_eq!(outline.locate("a.m[2]"), None);
        assert_eq!(outline.locate("a.n[0]"), Some((8, 3)));
        assert_eq!(outline.locate("a.n[1]"), None);
        assert_eq!(outline.locate("b"), Some((9, 1)));
        assert_eq!(outline.field_on(8), Some("a.n[0]".into()));
        assert_eq!(outline.field_on(5), None);
    }

    #[test]
    fn outlines_compact_items_quoted_keys_and_duplicates() {
        let src = "l:\n  - k: 1\n    j: 2\n  - - x\n\"q\": 'it''s: #'\nq: 2 # c\n";
        let (outline, ok) = scan(src);
        ok.unwrap();
        assert_eq!(outline.locate("l[0].k"), Some((2, 5)));
        assert_eq!(outline.locate("l[0].j"), Some((3, 5)));
        assert_eq!(outline.locate("l[1][0]"), Some((4, 5)));
        assert_eq!(outline.locate("q"), Some((5, 1)));
        assert_eq!(outline.locate_duplicate("q"), Some((6, 1)));
    }

    #[test]
    fn quotes_block_scalars_and_comments_hide_indicators() {
        for src in [
            "a: \"!x &y *z [[[\"\nb: 1\n",
            "a: '!x'\nb: 1\n",
            "a: |\n  !x &y\n  [[[[\nb: 1\n",
            "a: \"multi\n  !line [\"\nb: 1\n",
            "a: x # !tag &anchor [\nb: 1\n",
            "a: sha1:ab!c&d*e\nb: 1\n",
            "a: [x, \"y]\", {k: v}]\nb: 1\n",
        ] {
            let (outline, ok) = scan(src);
            assert_eq!(ok, Ok(()), "{src:?}");
            assert!(outline.locate("b").is_some(), "{src:?}: {outline:?}");
        }
    }

    #[test]
    fn tags_anchors_and_aliases_are_refused_at_their_field() {
        for (src, line, column, field, word) in [
            ("a:\n  b: !evil \"x\"\n", 2, 6, "a.b", "tags"),
            ("a: !!python/object:os.system\n  b: 1\n", 1, 4, "a", "tags"),
            ("a: [1, !t 2]\n", 1, 8, "a", "tags"),
            ("a: &x 1\n", 1, 4, "a", "anchors"),
            ("a:\n  - *x\n", 2, 5, "a[0]", "aliases"),
        ] {
            let p = problem(src);
            assert_eq!(
                (p.line, p.column, p.field.as_deref()),
                (line, column, Some(field)),
                "{src:?}: {p:?}"
            );
            assert!(p.message.contains(word), "{p:?}");
        }
    }

    #[test]
    fn tabs_in_the_indentation_are_refused_where_they_are() {
        let p = problem("a:\n  b: 1\n\t c: 2\n");
        assert_eq!(
            (p.line, p.column, p.field.as_deref()),
            (3, 1, Some("a.c")),
            "{p:?}"
        );
        let p = problem("a:\n \tb: 1\n");
        assert_eq!(
            (p.line, p.column, p.field.as_deref()),
            (2, 2, Some("a.b")),
            "{p:?}"
        );
        // Tabs separating tokens, and in comments and blank lines, are YAML's and harmless.
        assert_eq!(scan("a:\tb\t# c\n\t\n\t# note\n").1, Ok(()));
    }

    #[test]
    fn one_document() {
        assert_eq!(scan("%YAML 1.2\n---\na: 1\n...\n").1, Ok(()));
        let p = problem("a: 1\n---\nb: 2\n");
        assert_eq!((p.line, p.column), (2, 1), "{p:?}");
        assert!(p.message.contains("second YAML document"), "{p:?}");
        let p = problem("a: 1\n...\n# fine\nb: 2\n");
        assert_eq!(p.line, 4, "{p:?}");
    }

    #[test]
    fn nesting_is_bounded_in_flow_and_block_style() {
        let p = problem(&format!("a: {}", "[".repeat(50_000)));
        assert_eq!((p.line, p.column), (1, 4 + MAX_DEPTH - 1), "{p:?}");
        assert!(p.message.contains("32 levels"), "{p:?}");
        let p = problem(&format!("a: {}", "- ".repeat(100)));
        assert_eq!(p.line, 1, "{p:?}");
        let deep: String = (0..40)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let p = problem(&deep);
        assert_eq!(p.line, MAX_DEPTH + 1, "{p:?}");
        let ok: String = (0..MAX_DEPTH)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert_eq!(scan(&ok).1, Ok(()));
    }
}
