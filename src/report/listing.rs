//! `testbed ls`: testbed's stacks and images as two tables.

use crate::events::{GcWould, ImageRow, StackRow};

/// Both tables, a blank line apart; None when there is nothing to list.
pub fn tables(stacks: &[StackRow], images: &[ImageRow]) -> Option<String> {
    let stacks = (!stacks.is_empty()).then(|| stacks_table(stacks));
    let images = (!images.is_empty()).then(|| images_table(images));
    match (stacks, images) {
        (None, None) => None,
        (Some(stacks), Some(images)) => Some(format!("{stacks}\n{images}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
    }
}

fn stacks_table(stacks: &[StackRow]) -> String {
    let header = ["PROJECT", "AGE", "OWNER", "STATE", "GC"].map(String::from);
    let rows = stacks.iter().map(|stack| {
        [
            stack.project.clone(),
            age(stack.age),
            stack.owner.clone(),
            stack.state.clone(),
            gc_column(&stack.gc),
        ]
    });
    table(&std::iter::once(header).chain(rows).collect::<Vec<_>>())
}

fn images_table(images: &[ImageRow]) -> String {
    let header = ["IMAGE", "ID", "AGE", "STATE", "GC"].map(String::from);
    let rows = images.iter().map(|image| {
        let state = if image.in_use { "in use" } else { "unused" };
        [
            image.name.clone(),
            image.id.clone(),
            age(image.age),
            state.into(),
            gc_column(&image.gc),
        ]
    });
    table(&std::iter::once(header).chain(rows).collect::<Vec<_>>())
}

fn age(seconds: Option<u64>) -> String {
    seconds.map_or("?".into(), short_duration)
}

/// What `gc` would do, as `ls` shows it.
fn gc_column(gc: &GcWould) -> String {
    match gc.removes {
        true => format!("removes it: {}", gc.why),
        false => format!("keeps it: {}", gc.why),
    }
}

/// "45s", "3m", "2h5m", "3d4h": the largest unit, and the next one when
/// it is not zero.
fn short_duration(seconds: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)];
    let i = UNITS
        .iter()
        .position(|(_, size)| seconds >= *size)
        .unwrap_or(UNITS.len() - 1);
    let (name, size) = UNITS[i];
    let mut text = format!("{}{name}", seconds / size);
    if let Some((next, next_size)) = UNITS.get(i + 1) {
        let n = seconds % size / next_size;
        if n > 0 {
            text.push_str(&format!("{n}{next}"));
        }
    }
    text
}

/// Columns padded to their widest cell, two spaces apart; the last one is
/// not padded.
fn table(rows: &[[String; 5]]) -> String {
    let mut widths = [0; 5];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(45), "45s");
        assert_eq!(short_duration(180), "3m");
        assert_eq!(short_duration(2 * 3600 + 5 * 60 + 7), "2h5m");
        assert_eq!(short_duration(3 * 86400 + 4 * 3600), "3d4h");
        assert_eq!(short_duration(86400 + 30), "1d");
    }

    #[test]
    fn stacks_and_images_are_tables_a_blank_line_apart() {
        let stacks = [StackRow {
            project: "tb-long".into(),
            age: Some(180),
            owner: "h:1".into(),
            state: "1 running".into(),
            gc: GcWould {
                removes: false,
                why: "its owner runs".into(),
            },
        }];
        let images = [ImageRow {
            name: "tb-api-tests:latest, tb-api-tests:tb-api-1-x".into(),
            id: "abababababab".into(),
            age: Some(60),
            in_use: false,
            gc: GcWould {
                removes: false,
                why: "a container uses it".into(),
            },
        }];
        assert_eq!(
            tables(&stacks, &images).unwrap(),
            "PROJECT  AGE  OWNER  STATE      GC\n\
             tb-long  3m   h:1    1 running  keeps it: its owner runs\n\
             \n\
             IMAGE                                         ID            AGE  STATE   GC\n\
             tb-api-tests:latest, tb-api-tests:tb-api-1-x  abababababab  1m   unused  keeps it: a container uses it\n"
        );
        assert_eq!(tables(&[], &[]), None);
        assert!(tables(&[], &images).unwrap().starts_with("IMAGE"));
    }
}
