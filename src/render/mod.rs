//! Presentation that is not the console's: the domain's figures as text, Markdown and JSON for
//! the CLI and files, and the sparklines the console draws too. Depends on `domain` only.

pub mod report;
