//! Themes and keymaps as a user configures them: files in the config dir, overrides by action
//! name, and errors that name the file, the line and the key.

use std::collections::BTreeMap;

use warroom::tui::action::Action;
use warroom::tui::keymap::{Context, Key, Keymap};
use warroom::tui::theme::{Role, Theme};

#[test]
fn user_keymap_file_and_config_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[[war_room]]\naction = \"note\"\nkeys = [\"N\"]\ndesc = \"jot\"\n\n[[timeline]]\naction = \"copy\"\nkeys = [\"ctrl-y\"]\n",
    )
    .unwrap();
    let overrides = BTreeMap::from([("decision".to_string(), vec!["D".to_string(), "alt-d".to_string()])]);
    let k = Keymap::load(dir.path(), &overrides).unwrap();
    let key = |s| Key::parse(s).unwrap();
    assert_eq!(k.lookup(Context::Timeline, key("N")), Some(&Action::Note));
    assert_eq!(k.lookup(Context::Timeline, key("n")), None);
    assert_eq!(k.lookup(Context::Timeline, key("ctrl-y")), Some(&Action::Copy));
    assert_eq!(k.lookup(Context::Timeline, key("alt-d")), Some(&Action::Decision));
    // The description feeds help.
    let b = k.bindings(Context::WarRoom).iter().find(|b| b.action == Action::Note).unwrap();
    assert_eq!(b.desc, "jot");
}

#[test]
fn bad_user_keymap_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keymap.toml");
    std::fs::write(&path, "[[board]]\naction = \"open\"\nkeys = [\"enter\"]\n[[board]]\naction = \"declare\"\nkeys = [\"super-d\"]\n")
        .unwrap();
    let e = Keymap::load(dir.path(), &BTreeMap::new()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:6:", path.display())), "{e}");
    assert!(e.contains("keys") && e.contains("super-d"), "{e}");
    std::fs::write(&path, "[[bored]]\naction = \"open\"\nkeys = [\"enter\"]\n").unwrap();
    let e = Keymap::load(dir.path(), &BTreeMap::new()).unwrap_err().to_string();
    assert!(e.contains(":1:") && e.contains("bored"), "{e}");
    let dir2 = tempfile::tempdir().unwrap();
    let bad = BTreeMap::from([("warp".to_string(), vec!["w".to_string()])]);
    let e = Keymap::load(dir2.path(), &bad).unwrap_err().to_string();
    assert!(e.contains("config.toml") && e.contains("keys.warp"), "{e}");
}

#[test]
fn user_theme_file_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    let path = dir.path().join("themes/night.toml");
    std::fs::write(&path, "name = \"night\"\nextends = \"high-contrast\"\n[roles]\nbreached = { fg = \"#ff0000\", bold = true }\n")
        .unwrap();
    let t = Theme::select(Some("night"), dir.path()).unwrap();
    assert_eq!(t.name, "night");
    assert_eq!(t.style(Role::Breached).fg, Some(ratatui::style::Color::Rgb(255, 0, 0)));
    std::fs::write(
        &path,
        "name = \"night\"\n[roles]\naccent = { fg = \"cyan\" }\npendng = { bold = true }\n",
    )
    .unwrap();
    let e = Theme::select(Some("night"), dir.path()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:4:", path.display())) && e.contains("pendng"), "{e}");
    let e = Theme::select(Some("nope"), dir.path()).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("default"), "{e}");
}

#[test]
fn every_builtin_theme_covers_every_role_without_panicking() {
    for (name, _) in warroom::tui::theme::BUILTIN {
        let t = Theme::builtin(name).unwrap();
        for r in Role::ALL {
            let _ = t.style(*r);
        }
    }
}
