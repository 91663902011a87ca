//! Unit tests of experiment files.

use super::*;

/// The arguments of `plasticity <path…>` that an experiment section must accept
/// (all but the input and output paths that `run` sets).
fn flags_of(path: &[&str]) -> Vec<String> {
    let mut command = crate::cli::Cli::command();
    for name in path {
        command = command
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("no subcommand {name}"))
            .clone();
    }
    command
        .get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .filter(|id| {
            !matches!(
                id.as_str(),
                "help" | "version" | "quiet" | "out" | "json" | "data" | "resume"
            )
        })
        .collect()
}

#[test]
fn every_flag_of_the_fit_commands_is_a_config_key() {
    for (path, kind, section) in [
        (&["fit"][..], Kind::Neural, "fit"),
        (&["simulate", "oja"][..], Kind::Neural, "simulate"),
        (&["simulate", "behaviour"][..], Kind::Behaviour, "simulate"),
        (&["table"][..], Kind::Table, "table"),
        (&["flies"][..], Kind::Flies, "flies"),
        (&["bench-kernels"][..], Kind::Scaling, "bench"),
    ] {
        let flags = flags_of(path);
        assert!(flags.len() >= 4, "{path:?}: {flags:?}");
        let command = section_command(kind, section);
        for flag in flags {
            assert!(
                find_arg(&command, &flag).is_some(),
                "`plasticity {}` has --{flag} but [{section}] has no key {flag}",
                path.join(" ")
            );
            // and under the flag's own spelling
            let kebab = flag.replace('_', "-");
            assert!(find_arg(&command, &kebab).is_some(), "{kebab}");
        }
    }
}

#[test]
fn key_lines_are_found_in_their_section() {
    let source = "kind = \"neural\"\n[simulate]\nseed = 1\n\n[fit]\n  seed = 2\n[grid]\n\"fit.seed\" = [1]\n";
    assert_eq!(key_line(source, None, "kind"), Some(1));
    assert_eq!(key_line(source, Some("simulate"), "seed"), Some(3));
    assert_eq!(key_line(source, Some("fit"), "seed"), Some(6));
    assert_eq!(key_line(source, Some("grid"), "fit.seed"), Some(8));
    assert_eq!(key_line(source, Some("fit"), ""), Some(5));
    assert_eq!(key_line(source, Some("fit"), "epochs"), None);
}

#[test]
fn cells_are_row_major() {
    let source = "kind = \"neural\"\n[grid]\n\"simulate.noise_std\" = [0.0, 0.5]\n\"fit.seed\" = [1, 2, 3]\n";
    let experiment =
        Experiment::parse_with_base(Path::new("x.toml"), source, Path::new(".")).expect("parsed");
    let cells = experiment.cells();
    assert_eq!(cells.len(), 6);
    assert_eq!(cells[4].label(), "noise_std=0.5, seed=2");
    assert_eq!(cells[4].index, 4);
}
