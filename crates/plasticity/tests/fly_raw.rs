//! The deposited raw fly layout (issue 25, point 2): 20 simulated flies written as raw
//! directories convert to exactly the `X`/`Y`/`R` of the simulation, through the
//! converter, the `.mat` and CSV writers and `load_fly_dir`; hostile raw files give
//! errors naming the file and the variable.

#[path = "support/raw.rs"]
mod raw;

use std::path::Path;

use plasticity::data::{
    convert_raw_fly, fly_data_source, load_fly, load_fly_dir, load_raw_fly, FlyRecording,
    FLY_DATA_SOURCE, RAW_FLY_DATA_SOURCE,
};
use plasticity::io::mat::{load_mat_variables, MatValue};
use plasticity::Error;
use raw::{node_file, simulate_raw_fly, Node, RawFlySim};

/// The recording the simulation's truth gives (what the loaders keep: up to the last
/// accept, trials numbered).
fn truth_recording(sim: &RawFlySim, name: &str) -> FlyRecording {
    let last = sim
        .decisions
        .iter()
        .rposition(|&d| d == 1)
        .expect("an accept");
    // each presentation's trial: the accepts before it
    let accepts_before = |k: usize| -> i64 { sim.decisions[..k].iter().sum() };
    let trial_of_presentation = (0..=last).map(accepts_before).collect();
    FlyRecording {
        odours: sim.odours[..=last].to_vec(),
        decisions: sim.decisions[..=last].to_vec(),
        trial_of_presentation,
        rewards: sim.rewards.clone(),
        n_odours: 2,
        name: name.to_string(),
    }
}

#[test]
fn twenty_simulated_flies_convert_to_the_simulations_x_y_r() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tempfile::tempdir().expect("temp dir");
    let mut truths = Vec::new();
    let (mut dropped_choice_points, mut no_choice, mut rejections) = (0, 0, 0);
    let mut entries_on_choice_points = 0;
    for fly in 0..20u64 {
        let trials = 8 + (fly as usize % 5) * 4;
        let sim = simulate_raw_fly(fly + 1, 3, trials);
        let name = format!("Fly{}", fly + 1);
        let fly_dir = dir.path().join(&name);
        sim.write(&fly_dir);
        let converted = convert_raw_fly(&fly_dir).expect("converts");
        assert_eq!(converted.odours, sim.odours, "{name}: X");
        assert_eq!(converted.decisions, sim.decisions, "{name}: Y");
        assert_eq!(converted.rewards, sim.rewards, "{name}: R");
        assert_eq!(converted.name, name);
        let s = &converted.summary;
        assert_eq!(s.blocks, 3);
        assert_eq!(s.entries, sim.odours.len());
        assert_eq!(s.accepts, sim.rewards.len());
        assert_eq!(s.choices + s.trials_without_choice, trials * 3);
        assert_eq!(s.choice_points, s.choices);
        dropped_choice_points += s.choice_points_without_entry;
        no_choice += s.trials_without_choice;
        rejections += sim.decisions.iter().filter(|&&d| d == 0).count();
        entries_on_choice_points += sim.entries_on_choice_points;

        // written as .mat and as CSV, read back by the loaders
        let truth = truth_recording(&sim, &name);
        for ext in ["mat", "csv"] {
            let path = out.path().join(format!("{name}.{ext}"));
            converted.write(&path).expect("written");
            let mut back = load_fly(&path).expect("reads back");
            back.name = name.clone();
            assert_eq!(back, truth, "{name}.{ext}");
        }
        assert_eq!(load_raw_fly(&fly_dir).expect("loads"), truth);
        truths.push(truth);
    }
    // the simulation exercised what it should
    assert!(dropped_choice_points > 5, "{dropped_choice_points}");
    assert!(no_choice > 5 && rejections > 50, "{no_choice} {rejections}");
    assert!(
        entries_on_choice_points > 0,
        "an entry on a choice point's frame"
    );
    // a directory of raw fly directories, in natural order
    let flies = load_fly_dir(dir.path()).expect("all flies load");
    assert_eq!(flies, truths);
    // and the source their results record: the deposited raw data, the public
    // conversion, or both where a directory mixes them
    assert_eq!(fly_data_source(dir.path()), RAW_FLY_DATA_SOURCE);
    assert_eq!(fly_data_source(out.path()), FLY_DATA_SOURCE);
    std::fs::copy(out.path().join("Fly1.mat"), dir.path().join("Fly21.mat")).expect("copy");
    let mixed = fly_data_source(dir.path());
    assert!(mixed.contains(FLY_DATA_SOURCE) && mixed.contains(RAW_FLY_DATA_SOURCE));
}

#[test]
fn the_mat_reader_reads_structs_cells_and_chars() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("values.mat");
    let fields = vec!["a".to_string(), "long_field_name".to_string()];
    let value = Node::Struct(
        fields,
        vec![
            vec![Node::Char("AtoM".into(), true), Node::Empty],
            vec![
                Node::Cell(vec![Node::Char("ΩtoO".into(), false)]),
                Node::Double(vec![2, 1], vec![1.5, -2.0]),
            ],
        ],
    );
    for compressed in [false, true] {
        let bytes = node_file(&[("other", Node::Empty), ("s", value.clone())], compressed);
        std::fs::write(&path, bytes).expect("written");
        let found = load_mat_variables(&path, &["s", "absent"]).expect("reads");
        assert!(found[1].is_none());
        let Some(MatValue::Struct(s)) = &found[0] else {
            panic!("expected a struct, found {:?}", found[0]);
        };
        assert_eq!(s.len(), 2);
        assert_eq!(s.fields, ["a", "long_field_name"]);
        assert!(matches!(s.field(0, "a"), Some(MatValue::Char { text, .. })
            if text.iter().collect::<String>() == "AtoM"));
        assert!(s
            .field(0, "long_field_name")
            .is_some_and(MatValue::is_empty));
        let Some(MatValue::Cell { cells, .. }) = s.field(1, "a") else {
            panic!("expected a cell");
        };
        assert!(matches!(&cells[0], MatValue::Char { text, .. }
            if text.iter().collect::<String>() == "ΩtoO"));
        assert!(
            matches!(s.field(1, "long_field_name"), Some(MatValue::Numeric(a))
            if a.values == [1.5, -2.0] && a.dims == [2, 1])
        );
    }
}

/// Asserts that `result` is a data error naming `file` (its path ends with it) and
/// `variable`, whose message contains every one of `words`.
fn assert_error<T: std::fmt::Debug>(
    result: plasticity::Result<T>,
    file: &str,
    variable: &str,
    words: &[&str],
) {
    let error = result.expect_err("refused");
    let text = error.to_string();
    let Error::Data {
        path, variable: v, ..
    } = &error
    else {
        panic!("expected a data error, got {error:?}");
    };
    assert!(path.ends_with(file), "{text}");
    assert_eq!(v, variable, "{text}");
    assert!(text.contains(file), "{text}");
    if !variable.is_empty() {
        assert!(text.contains(&format!("'{variable}'")), "{text}");
    }
    for w in words {
        assert!(text.contains(w), "'{w}' not in: {text}");
    }
}

/// A valid simulated fly written into `dir/name`.
fn fly_dir(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    simulate_raw_fly(7, 3, 10).write(&path);
    path
}

#[test]
fn hostile_raw_files_name_the_file_and_the_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    // a missing block file
    let fly = fly_dir(dir.path(), "missing");
    std::fs::remove_file(fly.join("odor_crossing_2.mat")).expect("removed");
    assert_error(
        convert_raw_fly(&fly),
        "odor_crossing_2.mat",
        "odor_crossing",
        &["missing file"],
    );
    let fly = fly_dir(dir.path(), "missing_cps");
    std::fs::remove_file(fly.join("cps_3.mat")).expect("removed");
    assert_error(convert_raw_fly(&fly), "cps_3.mat", "cps", &["missing file"]);

    // a struct without `type`
    let fly = fly_dir(dir.path(), "no_type");
    let fields = vec!["time".to_string(), "time_pt_in_vector".to_string()];
    let crossings = Node::Struct(fields, vec![vec![Node::Double(vec![1, 1], vec![0.5]); 2]]);
    std::fs::write(
        fly.join("odor_crossing_1.mat"),
        node_file(&[("odor_crossing", crossings)], true),
    )
    .expect("written");
    assert_error(
        convert_raw_fly(&fly),
        "odor_crossing_1.mat",
        "odor_crossing",
        &["no field 'type'"],
    );

    // choice and reward matrices of different shapes
    let fly = fly_dir(dir.path(), "shapes");
    std::fs::write(
        fly.join("reward_order.mat"),
        node_file(
            &[("reward_order", Node::Double(vec![10, 2], vec![0.0; 20]))],
            false,
        ),
    )
    .expect("written");
    assert_error(
        convert_raw_fly(&fly),
        "reward_order.mat",
        "reward_order",
        &["10 × 2", "10 × 3"],
    );

    // a MATLAB v7.3 (HDF5) file
    let fly = fly_dir(dir.path(), "v73");
    let mut v73 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".to_vec();
    v73.resize(116, b' ');
    v73.extend([0u8; 8]);
    v73.extend(0x0200u16.to_le_bytes());
    v73.extend(b"IM");
    v73.resize(512, 0);
    v73.extend(b"\x89HDF\r\n\x1a\n");
    v73.resize(2048, 0);
    std::fs::write(fly.join("cps_2.mat"), &v73).expect("written");
    assert_error(convert_raw_fly(&fly), "cps_2.mat", "cps", &["v7.3", "HDF5"]);
}

#[test]
fn hostile_raw_values_name_the_file_and_the_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    // a type too short to have a 4th character, a choice outside 0..=2, a variable
    // of the wrong name
    let fly = fly_dir(dir.path(), "short_type");
    let fields = ["time", "type", "time_pt_in_vector", "conts"]
        .map(String::from)
        .to_vec();
    let one = Node::Double(vec![1, 1], vec![3.0]);
    let crossings = Node::Struct(
        fields,
        vec![vec![
            one.clone(),
            Node::Cell(vec![Node::Char("Ato".into(), false)]),
            one.clone(),
            one,
        ]],
    );
    std::fs::write(
        fly.join("odor_crossing_1.mat"),
        node_file(&[("odor_crossing", crossings)], false),
    )
    .expect("written");
    assert_error(
        convert_raw_fly(&fly),
        "odor_crossing_1.mat",
        "odor_crossing",
        &["crossing 1", "'Ato'"],
    );
    let fly = fly_dir(dir.path(), "choice3");
    let mut choices = vec![1.0; 30];
    choices[12] = 3.0;
    std::fs::write(
        fly.join("choice_order.mat"),
        node_file(
            &[("choice_order", Node::Double(vec![10, 3], choices))],
            false,
        ),
    )
    .expect("written");
    assert_error(
        convert_raw_fly(&fly),
        "choice_order.mat",
        "choice_order",
        &["trial 3, block 2"],
    );
    let fly = fly_dir(dir.path(), "renamed");
    std::fs::write(
        fly.join("cps_1.mat"),
        node_file(&[("cp", Node::Double(vec![1, 2], vec![0.0, 5.0]))], false),
    )
    .expect("written");
    assert_error(
        convert_raw_fly(&fly),
        "cps_1.mat",
        "cps",
        &["missing variable"],
    );

    // block 1 without a choice point (the reference's index error), and choice points
    // left without a choice (every trial of blocks 2 and 3 without one)
    let fly = fly_dir(dir.path(), "no_cp");
    std::fs::write(
        fly.join("cps_1.mat"),
        node_file(&[("cps", Node::Double(vec![1, 1], vec![2.0]))], false),
    )
    .expect("written");
    assert_error(
        convert_raw_fly(&fly),
        "cps_1.mat",
        "cps",
        &["block 1 has no choice point"],
    );
    let fly = fly_dir(dir.path(), "few_choices");
    let mut choices = vec![0.0; 30];
    choices[..10].fill(1.0);
    std::fs::write(
        fly.join("choice_order.mat"),
        node_file(
            &[("choice_order", Node::Double(vec![10, 3], choices))],
            false,
        ),
    )
    .expect("written");
    assert_error(
        convert_raw_fly(&fly),
        "choice_order.mat",
        "choice_order",
        &["only 10 trials"],
    );

    // one fly's directory given where a directory of flies is expected
    let fly = fly_dir(dir.path(), "single");
    assert_error(load_fly_dir(&fly), "single", "", &["one fly's directory"]);
}

#[test]
fn the_mat_reader_refuses_what_it_cannot_trust() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hostile.mat");
    let read = |bytes: Vec<u8>| {
        std::fs::write(&path, bytes).expect("written");
        load_mat_variables(&path, &["v"])
    };
    let header_of = |m: &[u8]| {
        let mut bytes = node_file(&[], false);
        bytes.extend(m);
        bytes
    };
    // cells nested deeper than the reader follows
    let mut deep = Node::Char("AtoM".into(), false);
    for _ in 0..20 {
        deep = Node::Cell(vec![deep]);
    }
    let message = read(node_file(&[("v", deep)], true))
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("'v'") && message.contains("nested more than 16"),
        "{message}"
    );

    // a cell array claiming a million cells in a few bytes: refused before allocating
    let mut cell = raw::node_element("v", &Node::Cell(vec![Node::Empty]));
    cell[36..40].copy_from_slice(&1_000_000i32.to_le_bytes());
    let message = read(header_of(&cell)).expect_err("refused").to_string();
    assert!(message.contains("1000000 arrays claimed"), "{message}");

    // a char array whose dimensions disagree with its data
    let mut chars = raw::node_element("v", &Node::Char("AtoM".into(), true));
    chars[36..40].copy_from_slice(&5i32.to_le_bytes());
    let message = read(header_of(&chars)).expect_err("refused").to_string();
    assert!(message.contains("need 5 characters"), "{message}");

    // v7.3 recognised by its version word alone, and by the HDF5 signature alone
    let mut v73 = node_file(&[], false);
    v73[124..126].copy_from_slice(&0x0200u16.to_le_bytes());
    let message = read(v73).expect_err("refused").to_string();
    assert!(
        message.contains("v7.3") && message.contains("HDF5"),
        "{message}"
    );
    let mut hdf5 = vec![b' '; 512];
    hdf5.extend(b"\x89HDF\r\n\x1a\n");
    hdf5.resize(1024, 0);
    let message = read(hdf5).expect_err("refused").to_string();
    assert!(message.contains("v7.3"), "{message}");

    // a sparse field is kept as unsupported, so the rest of the struct still reads
    let fields = vec!["a".to_string()];
    let s = Node::Struct(fields, vec![vec![Node::Double(vec![1, 1], vec![2.0])]]);
    let mut bytes = raw::node_element("v", &s);
    let found = read(header_of(&bytes)).expect("reads");
    assert!(matches!(&found[0], Some(MatValue::Struct(s)) if s.len() == 1));
    // class byte of the nested double (after the struct's header, name length, names)
    let nested_flags = bytes.len() - 48;
    assert_eq!(bytes[nested_flags], 6, "the nested array's class byte");
    bytes[nested_flags] = 5;
    let found = read(header_of(&bytes)).expect("reads");
    let Some(MatValue::Struct(s)) = &found[0] else {
        panic!("a struct")
    };
    assert!(
        matches!(s.field(0, "a"), Some(MatValue::Unsupported { class, .. }) if class == "sparse")
    );
}
