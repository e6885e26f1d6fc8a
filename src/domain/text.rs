//! Making text from the network safe for a terminal.

/// Removes control characters, escape sequences and bidi overrides from text that will reach a
/// terminal. Newlines and tabs survive only when `multiline` is set (tabs become spaces).
/// ESC-introduced sequences (CSI, OSC, DCS, ...) are dropped whole, not just their ESC byte, so
/// `\x1b]52;c;...\x07` cannot leave its payload on screen either.
pub fn sanitize(input: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // C1 CSI / OSC / DCS / SOS / PM / APC introducers: skip like their ESC forms.
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\n' if multiline => out.push('\n'),
            '\t' => out.push_str(if multiline { "    " } else { " " }),
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => {}
            // Bidi embeddings, overrides and isolates; zero-width formatting that can hide text.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A single line: newlines fold into spaces.
pub fn line(input: &str) -> String {
    sanitize(input, false)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_escape(chars: &mut Chars<'_>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => skip_string(chars),
        // Two-character sequences (ESC c, ESC 7, ...) and charset designations (ESC ( B).
        Some('(') | Some(')') | Some('*') | Some('+') | Some('#') | Some('%') => {
            chars.next();
        }
        _ => {}
    }
}

fn skip_csi(chars: &mut Chars<'_>) {
    // Parameters and intermediates, then one final byte in 0x40..=0x7e.
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
        if !('\u{20}'..='\u{3f}').contains(&c) {
            break;
        }
    }
}

fn skip_string(chars: &mut Chars<'_>) {
    // Until BEL or ST (ESC \ or 0x9c).
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_osc52_whole() {
        assert_eq!(line("a\x1b]52;c;ZXZpbA==\x07b"), "ab");
        assert_eq!(line("a\x1b]52;c;ZXZpbA==\x1b\\b"), "ab");
    }

    #[test]
    fn strips_csi_and_c1() {
        assert_eq!(line("\x1b[2Jclear\x1b[31mred\x1b[0m"), "clearred");
        assert_eq!(line("x\u{9b}2Jy"), "xy");
    }

    #[test]
    fn strips_bidi_and_controls() {
        assert_eq!(line("abc\u{202e}fed\u{7}\u{0}"), "abcfed");
    }

    #[test]
    fn newlines() {
        assert_eq!(line("a\nb\r\nc"), "a b  c");
        assert_eq!(sanitize("a\nb\tc", true), "a\nb    c");
    }

    #[test]
    fn keeps_unicode() {
        assert_eq!(line("p99 à 6s — ✓ 日本"), "p99 à 6s — ✓ 日本");
    }
}
