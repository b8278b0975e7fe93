//! Cells as `onboard` writes and reads them: formula injection neutralised (OWASP's CSV
//! injection guidance) and undone on reading, so what `onboard export` writes is what
//! `onboard <CSV>` reads back.

use std::borrow::Cow;

/// The first characters a spreadsheet takes for the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A value as written in a cell: one that a spreadsheet would take for a formula gets a `'`
/// before it (shown as text, not run); so does one that starts with `'` itself, so that
/// [`restore`] gives every value back as it was.
pub fn neutralise(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) || value.starts_with('\'') {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A cell's value as read: the `'` that [`neutralise`] put before a formula-like value (or
/// a value starting with `'`) is taken off. Any other cell is read as it is.
pub(super) fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) || rest.starts_with('\'') => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_every_value_comes_back() {
        for value in [
            "=cmd|' /C calc'!A0",
            "+1",
            "-2",
            "@SUM(A1)",
            "'quoted",
            "''=x",
            "plain",
            "",
        ] {
            let written = neutralise(value);
            assert!(
                !written.starts_with(['=', '+', '-', '@']),
                "{value}: {written}"
            );
            assert_eq!(restore(&written), value);
        }
        assert_eq!(neutralise("a@b.co"), "a@b.co");
        assert_eq!(restore("'hello"), "'hello", "a plain leading quote is kept");
    }
}
