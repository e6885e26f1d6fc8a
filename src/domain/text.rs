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
            '\u{2028}' | '\u{2029}' => out.push(if multiline { '\n' } else { ' ' }),
            c if is_hidden(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Characters that change how text reads without showing: bidi embeddings, overrides, isolates
/// and marks; zero-width spaces, joiners and word joiners, the BOM, invisible operators, the
/// soft hyphen, interlinear annotations and tag characters (which can smuggle hidden ASCII).
/// Stripped by [`sanitize`]. Emoji joined by U+200D show as their separate parts.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' | '\u{180e}'
        | '\u{034f}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// Whether a JSON writer should spell `c` as `\uXXXX`: C0 and C1 controls (serde_json already
/// escapes C0), DEL, and the hidden characters of [`is_hidden`], so that printing JSON to a
/// terminal cannot drive it or reorder what it shows.
fn json_escaped(c: char) -> bool {
    c.is_control() || is_hidden(c) || c == '\u{2028}' || c == '\u{2029}'
}

/// Re-escapes a serialized JSON text so that C1 controls, DEL, bidi controls and zero-width
/// characters appear as `\uXXXX` (surrogate pairs above U+FFFF). The JSON value is unchanged:
/// any JSON parser reads the same strings back. Only characters inside strings can be such
/// characters in serde_json's output, so a plain scan is enough.
pub fn json_for_terminal(json: &str) -> String {
    if !json.chars().any(|c| !c.is_ascii() && json_escaped(c) || c == '\u{7f}') {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if (c == '\u{7f}' || !c.is_ascii()) && json_escaped(c) {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
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
    fn strips_zero_width_and_tags() {
        assert_eq!(line("ad\u{200b}min\u{feff}\u{2060}\u{200d}!"), "admin!");
        assert_eq!(line("ok\u{e0041}\u{e0042}"), "ok");
        assert_eq!(line("a\u{2028}b"), "a b");
    }

    #[test]
    fn json_for_terminal_escapes_c1_bidi_and_zero_width() {
        let v = serde_json::json!({"t": "a\u{9b}2J\u{202e}b\u{200b}c\u{7f}\u{e0041}é"});
        let s = json_for_terminal(&serde_json::to_string(&v).unwrap());
        assert_eq!(s, r#"{"t":"a\u009b2J\u202eb\u200bc\u007f\udb40\udc41é"}"#);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v);
    }

    #[test]
    fn keeps_unicode() {
        assert_eq!(line("p99 à 6s — ✓ 日本"), "p99 à 6s — ✓ 日本");
    }
}
