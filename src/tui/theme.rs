//! Themes: semantic roles (severity levels, status, pending, breached, muted, accent,
//! selection, ...) mapped to styles, loaded from `themes/*.toml` (embedded) or
//! `<config dir>/themes/NAME.toml`. A role a theme leaves out falls back along a chain
//! (`severity_1` -> `severity` -> `accent` -> `text`), so a small theme file is enough.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::assets::{FileError, parse_toml};

/// Built-in themes, by name.
pub const BUILTIN: [(&str, &str); 4] = [
    ("default", include_str!("../../themes/default.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("light", include_str!("../../themes/light.toml")),
];

macro_rules! roles {
    ($($variant:ident = $name:literal => $parent:expr),* $(,)?) => {
        /// A semantic style role.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Role { $($variant),* }

        impl Role {
            pub const ALL: &'static [Role] = &[$(Role::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $(Role::$variant => $name),* }
            }
            /// The role used when a theme leaves this one out.
            pub fn parent(self) -> Option<Role> {
                match self { $(Role::$variant => $parent),* }
            }
        }
    };
}

roles! {
    Text = "text" => None,
    Muted = "muted" => Some(Role::Text),
    Accent = "accent" => Some(Role::Text),
    Title = "title" => Some(Role::Accent),
    Header = "header" => Some(Role::Title),
    Border = "border" => Some(Role::Muted),
    BorderFocus = "border_focus" => Some(Role::Accent),
    Selection = "selection" => Some(Role::Text),
    Key = "key" => Some(Role::Accent),
    Notice = "notice" => Some(Role::Accent),
    Error = "error" => Some(Role::Text),
    Ok = "ok" => Some(Role::Text),
    Warning = "warning" => Some(Role::Accent),
    Severity = "severity" => Some(Role::Accent),
    Severity1 = "severity_1" => Some(Role::Severity),
    Severity2 = "severity_2" => Some(Role::Severity),
    Severity3 = "severity_3" => Some(Role::Severity),
    Severity4 = "severity_4" => Some(Role::Severity),
    StatusOpen = "status_open" => Some(Role::Warning),
    StatusResolved = "status_resolved" => Some(Role::Ok),
    Pending = "pending" => Some(Role::Muted),
    Breached = "breached" => Some(Role::Error),
    Unheld = "unheld" => Some(Role::Warning),
    Done = "done" => Some(Role::Ok),
    Corrected = "corrected" => Some(Role::Warning),
    SearchMatch = "search_match" => Some(Role::Selection),
    Tab = "tab" => Some(Role::Muted),
    TabActive = "tab_active" => Some(Role::Selection),
    KindNote = "kind_note" => Some(Role::Text),
    KindFinding = "kind_finding" => Some(Role::Accent),
    KindAction = "kind_action" => Some(Role::Text),
    KindDecision = "kind_decision" => Some(Role::Warning),
    KindSystem = "kind_system" => Some(Role::Muted),
    Time = "time" => Some(Role::Muted),
    Author = "author" => Some(Role::Text),
}

/// How a role looks, as written in a theme file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleSpec {
    #[serde(default)]
    pub fg: Option<String>,
    #[serde(default)]
    pub bg: Option<String>,
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub dim: bool,
    #[serde(default)]
    pub italic: bool,
    #[serde(default)]
    pub underline: bool,
    #[serde(default)]
    pub reverse: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    name: Option<String>,
    /// Start from another theme (built-in or user) and change some roles.
    #[serde(default)]
    extends: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, StyleSpec>,
}

/// A resolved theme: one style per role.
#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    styles: Vec<Style>,
    /// Whether any role uses a colour (false for `mono`).
    pub colored: bool,
}

fn parse_color(s: &str) -> Result<Color, String> {
    // ratatui's names: any case, words joined by `-`, `_`, a space or nothing, `bright` for
    // `light`, `grey` for `gray`; `#rrggbb`; an index 0-255. Only `default` is ours.
    if s.eq_ignore_ascii_case("default") {
        return Ok(Color::Reset);
    }
    s.parse::<Color>().map_err(|_| {
        if s.starts_with('#') && s.len() == 7 {
            format!("bad colour `{s}`")
        } else {
            format!("unknown colour `{s}` (ANSI name, #rrggbb or 0-255)")
        }
    })
}

impl StyleSpec {
    fn to_style(&self) -> Result<Style, String> {
        let mut s = Style::new();
        if let Some(fg) = &self.fg {
            s = s.fg(parse_color(fg)?);
        }
        if let Some(bg) = &self.bg {
            s = s.bg(parse_color(bg)?);
        }
        for (on, m) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.reverse, Modifier::REVERSED),
        ] {
            if on {
                s = s.add_modifier(m);
            }
        }
        Ok(s)
    }
}

fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_start().starts_with(needle)).map(|i| i + 1)
}

impl Theme {
    pub fn style(&self, role: Role) -> Style {
        self.styles[role as usize]
    }

    /// Severity style by rank in the scheme (0 = most severe).
    pub fn severity(&self, rank: usize) -> Style {
        self.style(match rank {
            0 => Role::Severity1,
            1 => Role::Severity2,
            2 => Role::Severity3,
            3 => Role::Severity4,
            _ => Role::Severity,
        })
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        let (n, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Some(Theme::parse(&format!("themes/{n}.toml"), text, None).expect("built-in themes are valid"))
    }

    /// Picks the theme: an explicit name (user dir first, then built-in), else `mono` when
    /// `NO_COLOR` is set or `TERM=dumb`, else `default`.
    pub fn select(name: Option<&str>, config_dir: &Path) -> Result<Theme, FileError> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Theme::select_with(name, config_dir, no_color || dumb)
    }

    /// [`Theme::select`] with the environment's verdict passed in (`monochrome`: NO_COLOR is
    /// set or TERM=dumb). An explicit name wins over the environment.
    pub fn select_with(name: Option<&str>, config_dir: &Path, monochrome: bool) -> Result<Theme, FileError> {
        match name {
            Some(n) => Theme::load(n, config_dir),
            None => Theme::load(if monochrome { "mono" } else { "default" }, config_dir),
        }
    }

    /// Loads a theme by name: `<config_dir>/themes/NAME.toml`, else a built-in one.
    pub fn load(name: &str, config_dir: &Path) -> Result<Theme, FileError> {
        Theme::load_depth(name, config_dir, 0)
    }

    fn load_depth(name: &str, config_dir: &Path, depth: usize) -> Result<Theme, FileError> {
        let path = config_dir.join("themes").join(format!("{name}.toml"));
        let not_found = || {
            let names: Vec<_> = BUILTIN.iter().map(|(n, _)| *n).collect();
            FileError {
                file: path.display().to_string(),
                line: None,
                message: format!("no theme `{name}` here or built in ({})", names.join(", ")),
            }
        };
        if depth > 8 {
            return Err(FileError {
                file: path.display().to_string(),
                line: None,
                message: "`extends` loops".into(),
            });
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => Theme::parse(&path.display().to_string(), &text, Some((config_dir, depth))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Theme::builtin(name).ok_or_else(not_found),
            Err(e) => Err(FileError { file: path.display().to_string(), line: None, message: e.to_string() }),
        }
    }

    /// Parses a theme file. `base` resolves `extends` (user dir, then built-ins).
    pub fn parse(file: &str, text: &str, base: Option<(&Path, usize)>) -> Result<Theme, FileError> {
        let raw: ThemeFile = parse_toml(file, text)?;
        let err = |needle: &str, message: String| FileError {
            file: file.to_string(),
            line: line_of(text, needle),
            message,
        };
        let parent = match &raw.extends {
            Some(p) => Some(match base {
                Some((dir, depth)) => Theme::load_depth(p, dir, depth + 1)?,
                None => Theme::builtin(p)
                    .ok_or_else(|| err("extends", format!("key `extends`: no built-in theme `{p}`")))?,
            }),
            None => None,
        };
        let mut own: BTreeMap<Role, Style> = BTreeMap::new();
        for (name, spec) in &raw.roles {
            let role = Role::ALL.iter().copied().find(|r| r.name() == name).ok_or_else(|| {
                err(
                    name,
                    format!(
                        "key `{name}`: unknown role (roles: {})",
                        Role::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            let style = spec.to_style().map_err(|m| err(name, format!("key `{name}`: {m}")))?;
            own.insert(role, style);
        }
        let styles: Vec<Style> = Role::ALL
            .iter()
            .map(|r| {
                let mut cur = Some(*r);
                while let Some(c) = cur {
                    if let Some(s) = own.get(&c) {
                        return *s;
                    }
                    if let Some(p) = &parent {
                        // The parent already resolved its own chain.
                        if c == *r {
                            return p.style(c);
                        }
                    }
                    cur = c.parent();
                }
                Style::new()
            })
            .collect();
        let colored = styles
            .iter()
            .any(|s| s.fg.is_some_and(|c| c != Color::Reset) || s.bg.is_some_and(|c| c != Color::Reset));
        Ok(Theme { name: raw.name.unwrap_or_else(|| file.to_string()), styles, colored })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_mono_has_no_colour() {
        for (n, _) in BUILTIN {
            let t = Theme::builtin(n).unwrap();
            assert_eq!(t.colored, n != "mono", "{n}");
        }
        let m = Theme::builtin("mono").unwrap();
        for r in Role::ALL {
            let s = m.style(*r);
            assert!(s.fg.is_none() && s.bg.is_none(), "{r:?}");
        }
    }

    #[test]
    fn colour_names_parse_in_every_spelling() {
        use Color::*;
        for (names, want) in [
            ("reset default Default", Reset),
            ("black Black", Black),
            ("red RED", Red),
            ("green", Green),
            ("yellow", Yellow),
            ("blue", Blue),
            ("magenta", Magenta),
            ("cyan", Cyan),
            ("gray grey Gray", Gray),
            ("dark_gray dark-gray dark_grey Dark-Grey bright_black bright-black", DarkGray),
            ("light_red light-red bright_red Bright-Red", LightRed),
            ("light_green bright_green", LightGreen),
            ("light_yellow bright_yellow", LightYellow),
            ("light_blue light-blue bright_blue", LightBlue),
            ("light_magenta bright_magenta", LightMagenta),
            ("light_cyan bright_cyan", LightCyan),
            ("white bright_white bright-white", White),
            ("#ff8800 #FF8800", Rgb(255, 136, 0)),
            ("0", Indexed(0)),
            ("208", Indexed(208)),
        ] {
            for n in names.split(' ') {
                assert_eq!(parse_color(n), Ok(want), "{n}");
            }
        }
        // Words apart with a space, as a TOML string may have them.
        assert_eq!(parse_color("dark gray"), Ok(DarkGray));
        assert_eq!(parse_color("Light Blue"), Ok(LightBlue));
        assert_eq!(parse_color("#zzzzzz"), Err("bad colour `#zzzzzz`".into()));
        for bad in ["#fff", "256", "purple", ""] {
            assert_eq!(
                parse_color(bad),
                Err(format!("unknown colour `{bad}` (ANSI name, #rrggbb or 0-255)"))
            );
        }
    }

    #[test]
    fn default_uses_only_16_colours() {
        let t = Theme::builtin("default").unwrap();
        for r in Role::ALL {
            let s = t.style(*r);
            for c in [s.fg, s.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{r:?}: {c:?}");
            }
        }
    }

    #[test]
    fn fallback_chain() {
        let t = Theme::parse("t.toml", "[roles]\nseverity = { fg = \"red\" }\n", None).unwrap();
        assert_eq!(t.style(Role::Severity3).fg, Some(Color::Red));
        let t = Theme::parse("t.toml", "extends = \"default\"\n[roles]\nmuted = { fg = \"blue\" }\n", None)
            .unwrap();
        assert_eq!(t.style(Role::Muted).fg, Some(Color::Blue));
        assert_eq!(t.style(Role::Accent), Theme::builtin("default").unwrap().style(Role::Accent));
    }

    #[test]
    fn bad_theme_names_file_line_and_key() {
        let e = Theme::parse("x.toml", "[roles]\ntext = {}\nsevrity = { fg = \"red\" }\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:3:") && e.contains("sevrity"), "{e}");
        let e =
            Theme::parse("x.toml", "[roles]\naccent = { fg = \"rouge\" }\n", None).unwrap_err().to_string();
        assert!(e.starts_with("x.toml:2:") && e.contains("rouge"), "{e}");
        let e = Theme::parse("x.toml", "[roles]\naccent = { fg = \"red\", blink = true }\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:2:"), "{e}");
    }

    #[test]
    fn auto_selection() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Theme::select_with(None, dir.path(), true).unwrap().name, "mono");
        assert_eq!(Theme::select_with(None, dir.path(), false).unwrap().name, "default");
        assert_eq!(Theme::select_with(Some("light"), dir.path(), true).unwrap().name, "light");
    }

    #[test]
    fn user_theme_dir_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/mine.toml"),
            "extends = \"mono\"\n[roles]\naccent = { underline = true }\n",
        )
        .unwrap();
        let t = Theme::load("mine", dir.path()).unwrap();
        assert!(t.style(Role::Accent).add_modifier.contains(Modifier::UNDERLINED));
        assert!(Theme::load("nope", dir.path()).unwrap_err().to_string().contains("nope"));
    }
}
