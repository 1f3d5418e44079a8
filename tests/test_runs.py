"""Tests for bayescale.data.runs: reading, column mapping, exclusion and validation of run tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayescale.data.reading import read_runs, runs_from_frame
from bayescale.data.runs import Runs
from bayescale.errors import RunsError

CHINCHILLA = Path("/work/shared/data/chinchilla_epoch/chinchilla_runs.csv")


def table(n: int = 6) -> pd.DataFrame:
    """A small valid table with user-style column names."""
    N = np.array([1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9, 6.4e9, 1.28e10])[:n]
    D = 20.0 * N
    return pd.DataFrame({
        "N_params": N, "D_tokens": D, "C_flops": 6.0 * N * D,
        "loss": 1.7 + 400.0 / N**0.34 + 410.0 / D**0.28,
        "tag": ["a", "b", "a", "b", "a", "b", "a", "b"][:n],
    })


def write_csv(tmp_path: Path, text: str, name: str = "runs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_and_parquet_give_same_hash(tmp_path):
    df = table()
    df.to_csv(tmp_path / "r.csv", index=False)
    df.to_parquet(tmp_path / "r.parquet", index=False)
    a, b = read_runs(tmp_path / "r.csv"), read_runs(tmp_path / "r.parquet")
    assert a.data_hash.startswith("sha256:")
    assert a.data_hash == b.data_hash
    np.testing.assert_array_equal(a.loss, b.loss)
    # the unit is part of the hash
    c = read_runs(tmp_path / "r.csv", loss_unit="bits/token")
    assert c.data_hash != a.data_hash


def test_tsv_and_gzip(tmp_path):
    df = table()
    df.to_csv(tmp_path / "r.tsv", sep="\t", index=False)
    df.to_csv(tmp_path / "r.csv.gz", index=False)
    assert read_runs(tmp_path / "r.tsv").n_runs == 6
    assert read_runs(tmp_path / "r.csv.gz").data_hash == read_runs(tmp_path / "r.tsv").data_hash


def test_auto_detection_and_frame_shape(tmp_path):
    df = table()
    df.to_csv(tmp_path / "r.csv", index=False)
    runs = read_runs(tmp_path / "r.csv")
    assert isinstance(runs, Runs)
    assert runs.columns == {"N": "N_params", "D": "D_tokens", "C": "C_flops", "loss": "loss"}
    assert list(runs.frame.columns) == ["N", "D", "C", "loss"]
    assert all(runs.frame.dtypes == np.float64)
    assert list(runs.frame.index) == list(range(6))
    np.testing.assert_allclose(runs.N, df["N_params"])
    assert runs.source == str(tmp_path / "r.csv")
    assert runs.excluded == 0


def test_auto_detection_case_insensitive_and_first_candidate():
    df = pd.DataFrame({"PARAMS": [1e8, 2e8, 4e8], "Tokens": [1e9, 2e9, 3e9],
                       "val_loss": [3.0, 2.9, 2.8], "final_loss": [9.0, 9.0, 9.1]})
    runs = runs_from_frame(df)
    assert runs.columns["N"] == "PARAMS"
    assert runs.columns["D"] == "Tokens"
    assert runs.columns["loss"] == "final_loss"  # earlier in the candidate list than val_loss
    assert runs.source == "<DataFrame>"


@pytest.mark.parametrize("n, d, loss", [("num_params", "num_tokens", "test_loss"), ("nparams", "tokens", "NLL"),
                                         ("model_size__params", "dataset_size__tokens", "test_loss__loss"),
                                         ("n_parameters", "training_tokens", "validation_loss")])
def test_common_column_names_are_detected(n, d, loss):
    runs = runs_from_frame(pd.DataFrame({n: [1e8, 2e8, 4e8], d: [1e9, 2e9, 3e9], loss: [3.0, 2.9, 2.8]}))
    assert (runs.columns["N"], runs.columns["D"], runs.columns["loss"]) == (n, d, loss)


def test_a_second_candidate_column_is_named_and_a_text_one_is_not(caplog):
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8], "param_count": ["kaplan"] * 3, "D": [1e9, 2e9, 3e9],
                       "val_loss": [3.0, 2.9, 2.8], "train_loss": [2.9, 2.8, 2.7]})
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = runs_from_frame(df)
    assert runs.columns["loss"] == "val_loss"
    (record,) = caplog.records
    assert "'train_loss'" in record.getMessage() and "--loss-col" in record.getMessage()


def test_explicit_column_options():
    df = pd.DataFrame({"size": [1e8, 2e8, 4e8], "toks": [1e9, 2e9, 3e9],
                       "loss": [9.0, 9.0, 9.1], "my_loss": [3.0, 2.9, 2.8]})
    runs = runs_from_frame(df, n_col="size", d_col="toks", loss_col="my_loss")
    assert runs.columns["N"] == "size"
    np.testing.assert_allclose(runs.loss, [3.0, 2.9, 2.8])


def test_unknown_column_option_lists_columns():
    with pytest.raises(RunsError) as err:
        runs_from_frame(table(), n_col="nparams")
    msg = str(err.value)
    assert "nparams" in msg and "--n-col" in msg and "N_params" in msg and "D_tokens" in msg


def test_missing_required_column_says_which_option():
    df = table().rename(columns={"N_params": "width"}).drop(columns=["C_flops"])
    with pytest.raises(RunsError, match="--n-col"):
        runs_from_frame(df)
    df = table().drop(columns=["D_tokens", "C_flops"])
    with pytest.raises(RunsError, match="--d-col"):
        runs_from_frame(df)


def test_C_derived_from_6ND():
    runs = runs_from_frame(table().drop(columns=["C_flops"]))
    assert runs.columns["C"] == "derived: 6ND"
    np.testing.assert_allclose(runs.C, 6.0 * runs.N * runs.D)


def test_D_derived_from_C():
    df = table()
    runs = runs_from_frame(df.drop(columns=["D_tokens"]))
    assert runs.columns["D"] == "derived: C/(6N)"
    np.testing.assert_allclose(runs.D, df["D_tokens"], rtol=1e-12)


def test_N_derived_from_C_and_D(caplog):
    """An isoFLOP sweep written as compute and tokens (no parameter column) gets N = C / (6D), said in a note."""
    df = table()
    with caplog.at_level("WARNING", logger="bayescale"):
        runs = runs_from_frame(df.drop(columns=["N_params"]))
    assert runs.columns["N"] == "derived: C/(6D)"
    np.testing.assert_allclose(runs.N, df["N_params"], rtol=1e-12)
    assert "C / (6D)" in caplog.text and "--n-col" in caplog.text
    assert "column derived: C/(6D)" in runs.describe()
    # a sweep's budget column by its usual name is the compute
    budgets = df.drop(columns=["N_params"]).rename(columns={"C_flops": "flops_budget"})
    assert runs_from_frame(budgets).columns["C"] == "flops_budget"


def test_exclude_where_numeric_and_string(tmp_path):
    df = table()
    df["flag"] = [0, 1, 0, 0, 1, 0]
    df.to_csv(tmp_path / "r.csv", index=False)
    runs = read_runs(tmp_path / "r.csv", exclude_where=["flag=1"])
    assert runs.n_runs == 4 and runs.excluded == 2
    assert 2e8 not in runs.N and 1.6e9 not in runs.N
    runs = read_runs(tmp_path / "r.csv", exclude_where=["tag=a"])
    assert runs.n_runs == 3 and set(runs.N) == {2e8, 8e8, 3.2e9}
    # items are OR-ed; a numeric value written as 1.0 still matches
    runs = read_runs(tmp_path / "r.csv", exclude_where=["flag=1.0", "tag=a"])
    assert runs.n_runs == 2 and runs.excluded == 4
    # matching nothing is fine
    assert read_runs(tmp_path / "r.csv", exclude_where=["tag=zzz"]).n_runs == 6


def test_empty_cells_are_named_and_left_out_by_an_empty_value():
    """'D=' (or 'D=nan') matches the rows whose D is empty, which the error for them names; 'D!=' the others."""
    df = table()
    df["C_flops"] = df["C_flops"].astype(float)
    df.loc[[1, 4], "D_tokens"] = np.nan
    with pytest.raises(RunsError, match="missing or NaN values: row 1 \\(D_tokens\\), row 4 \\(D_tokens\\)\\. "
                                        "Fill them in, or leave those rows out with --exclude-where 'D_tokens='"):
        runs_from_frame(df)
    assert runs_from_frame(df, exclude_where=["D_tokens="]).n_runs == 4
    assert runs_from_frame(df, exclude_where=["D_tokens=NaN"]).n_runs == 4
    assert runs_from_frame(df, where=["D_tokens!="]).n_runs == 4
    df["tag"] = df["tag"].astype(object)
    df.loc[0, "tag"] = None
    assert runs_from_frame(df, exclude_where=["D_tokens=", "tag="]).n_runs == 3
    with pytest.raises(RunsError, match="an empty value compares with = or != only"):
        runs_from_frame(df, exclude_where=["D_tokens<"])


def test_exclude_where_bad_syntax_and_unknown_column():
    with pytest.raises(RunsError) as err:
        runs_from_frame(table(), exclude_where=["tag"])
    assert "--exclude-where 'COLUMN=VALUE'" in str(err.value) and "N_params" in str(err.value)
    with pytest.raises(RunsError) as err:
        runs_from_frame(table(), exclude_where=["colour=red"])
    assert "colour" in str(err.value) and "tag" in str(err.value)
    with pytest.raises(RunsError, match="not a number"):
        runs_from_frame(table(), exclude_where=["N_params=big"])


def test_exclude_everything_is_an_error():
    with pytest.raises(RunsError, match="no runs"):
        runs_from_frame(table(), exclude_where=["tag=a", "tag=b"])


def test_non_numeric_names_lines(tmp_path):
    path = write_csv(tmp_path, "N,D,loss\n1e8,1e9,3.0\n2e8,abc,2.9\n4e8,3e9,2.8\n")
    with pytest.raises(RunsError) as err:
        read_runs(path)
    msg = str(err.value)
    assert "line 3" in msg and "abc" in msg and "not numbers" in msg and "--exclude-where" in msg


def test_nan_names_lines(tmp_path):
    path = write_csv(tmp_path, "N,D,loss\n1e8,1e9,3.0\n2e8,2e9,2.9\n4e8,3e9,\n8e8,4e9,NaN\n")
    with pytest.raises(RunsError) as err:
        read_runs(path)
    msg = str(err.value)
    assert "line 4" in msg and "line 5" in msg and "missing" in msg


def test_inf_names_lines(tmp_path):
    path = write_csv(tmp_path, "N,D,loss\n1e8,1e9,3.0\n2e8,inf,2.9\n4e8,3e9,2.8\n")
    with pytest.raises(RunsError) as err:
        read_runs(path)
    assert "line 3" in str(err.value) and "infinite" in str(err.value)


def test_nonpositive_names_lines(tmp_path):
    path = write_csv(tmp_path, "N,D,loss\n1e8,1e9,3.0\n0,2e9,2.9\n4e8,3e9,-1\n8e8,4e9,2.7\n")
    with pytest.raises(RunsError) as err:
        read_runs(path)
    msg = str(err.value)
    assert "line 3" in msg and "line 4" in msg and "line 5" not in msg


def test_many_bad_rows_are_truncated():
    df = pd.DataFrame({"N": [-1.0] * 15, "D": np.arange(1, 16) * 1e9, "loss": 3.0})
    with pytest.raises(RunsError) as err:
        runs_from_frame(df)
    assert "row 9" in str(err.value) and "row 10" not in str(err.value)
    assert "and 5 more" in str(err.value)


def test_duplicates_name_pairs(tmp_path):
    path = write_csv(tmp_path, "N,D,loss\n1e8,1e9,3.0\n2e8,2e9,2.9\n1e8,1e9,3.0\n4e8,3e9,2.8\n")
    with pytest.raises(RunsError) as err:
        read_runs(path)
    assert "line 4 duplicates line 2" in str(err.value) and "--drop-duplicates" in str(err.value)
    runs = read_runs(path, drop_duplicates=True)  # the first of each is kept, and the summary says so
    assert runs.n_runs == 3 and list(runs.loss) == [3.0, 2.9, 2.8]
    assert "1 duplicate runs left out" in runs.describe()


def test_a_column_option_of_none_leaves_that_column_unread():
    """--c-col none: a C column that disagrees with 6ND (a run's planned budget, say) is left out and C is 6ND."""
    df = table()
    df.loc[2, "C_flops"] *= 20.0
    with pytest.raises(RunsError, match="--c-col none"):
        runs_from_frame(df)
    runs = runs_from_frame(df, c_col="none")
    assert runs.columns["C"] == "derived: 6ND"
    np.testing.assert_allclose(runs.C, 6 * runs.N * runs.D)
    assert runs_from_frame(df, n_col="None", c_col="C_flops", d_col="D_tokens").columns["N"] == "derived: C/(6D)"


def test_a_column_of_log10_values_is_read_with_unit_log10():
    """OPT's trajectories give tokens and FLOPs as base-10 logarithms."""
    df = table()
    logged = df.assign(D_tokens=np.log10(df["D_tokens"]), C_flops=np.log10(df["C_flops"]))
    runs = runs_from_frame(logged, units={"D": "log10", "C": "log10"})
    np.testing.assert_allclose(runs.D, df["D_tokens"], rtol=1e-12)
    np.testing.assert_allclose(runs.C, df["C_flops"], rtol=1e-12)
    assert runs.columns["D"] == "10^D_tokens" and runs.multipliers == {}
    assert "column 10^D_tokens" in runs.describe()
    with pytest.raises(RunsError, match="infinite values"):  # 10^400 overflows
        runs_from_frame(logged.assign(D_tokens=[400.0] + list(logged.D_tokens[1:])), units={"D": "log10"})
    with pytest.raises(RunsError, match="--u-unit was given, but .* has no U column"):
        runs_from_frame(logged, units={"D": "log10", "U": "log10"})


def test_a_header_written_with_spaces_names_its_columns_without_them(tmp_path):
    path = write_csv(tmp_path, "N, D, loss\n1e8, 1e9, 3.0\n2e8, 2e9, 2.9\n4e8, 3e9, 2.8\n")
    runs = read_runs(path, where=["D>1e9"])  # a filter names the column as the user sees it
    assert runs.columns["D"] == "D" and runs.columns["loss"] == "loss" and runs.n_runs == 2


def test_empty_lines_of_a_spreadsheet_export_are_left_out_with_a_note(tmp_path, caplog):
    path = write_csv(tmp_path, "N,D,loss\n1e8,1e9,3.0\n2e8,2e9,2.9\n4e8,3e9,2.8\n,,\n,,\n")
    with caplog.at_level("WARNING", logger="bayescale"):
        runs = read_runs(path)
    assert runs.n_runs == 3 and runs.excluded == 0
    assert "left out 2 empty line(s) (line 5, line 6)" in caplog.text
    with pytest.raises(RunsError, match="no runs"):
        read_runs(write_csv(tmp_path, "N,D,loss\n,,\n", name="blank_rows.csv"))


def test_dataframe_rows_named_by_index_label():
    df = pd.DataFrame({"N": [1e8, 2e8, 1e8], "D": [1e9, 2e9, 1e9], "loss": [3.0, 2.9, 3.0]},
                      index=[10, 20, 30])
    with pytest.raises(RunsError, match="row 30 duplicates row 10"):
        runs_from_frame(df)


def test_empty_file(tmp_path):
    with pytest.raises(RunsError, match="no runs"):
        read_runs(write_csv(tmp_path, "N,D,loss\n"))
    with pytest.raises(RunsError, match="cannot read"):
        read_runs(write_csv(tmp_path, "", name="blank.csv"))


def test_unknown_file_type_and_missing_file(tmp_path):
    path = tmp_path / "runs.xlsx"
    path.write_text("x")
    with pytest.raises(RunsError) as err:
        read_runs(path)
    assert "runs.xlsx" in str(err.value) and ".parquet" in str(err.value)
    with pytest.raises(RunsError) as err:
        read_runs(tmp_path / "absent.csv")
    assert "absent.csv" in str(err.value) and "no such file" in str(err.value)


def test_corrupt_parquet_is_a_runs_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not a parquet file at all")
    with pytest.raises(RunsError, match="bad.parquet"):
        read_runs(path)


def test_loss_unit():
    assert runs_from_frame(table(), loss_unit="bits/byte").loss_unit == "bits/byte"
    with pytest.raises(RunsError) as err:
        runs_from_frame(table(), loss_unit="nats")
    assert "nats/token" in str(err.value) and "bits/char" in str(err.value)


def test_check_identifiable_too_few_runs():
    runs = runs_from_frame(table(5))
    runs.check_identifiable(["N", "D"], 4, "chinchilla")  # 5 > 4: fine
    with pytest.raises(RunsError) as err:
        runs.check_identifiable(["N", "D"], 5, "chinchilla")
    msg = str(err.value)
    assert "fewer runs than parameters" in msg and "5 runs" in msg and "chinchilla" in msg


def test_check_identifiable_single_N():
    df = pd.DataFrame({"N": [1.2e9] * 12, "D": np.arange(1, 13) * 1e9,
                       "loss": np.linspace(3.0, 2.5, 12)})
    runs = runs_from_frame(df)
    runs.check_identifiable(["D"], 3, "data-only")  # N unused: fine
    with pytest.raises(RunsError) as err:
        runs.check_identifiable(["N", "D"], 5, "chinchilla")
    msg = str(err.value)
    assert "single model size" in msg and "1.2e9" in msg and "12 runs" in msg
    assert "compute-only" in msg


def test_check_identifiable_warns_when_a_variable_barely_varies(caplog):
    """GPT-3's models were all trained to about 3e11 tokens: a law in D learns its D terms from the priors."""
    df = pd.DataFrame({"N": np.logspace(8, 11, 8), "D": 3e11 * (1 + np.linspace(0, 0.001, 8)),
                       "loss": np.linspace(2.7, 1.8, 8)})
    runs = runs_from_frame(df)
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs.check_identifiable(["C"], 3, "compute_power")  # C spans 1000x: quiet
    assert caplog.records == []
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs.check_identifiable(["N", "D"], 5, "chinchilla")
    (record,) = caplog.records
    msg = record.getMessage()
    assert msg.startswith("D spans only 1.001× across the 8 runs") and "'chinchilla'" in msg
    assert "priors" in msg and "compute-only law" in msg


def test_check_identifiable_warns_on_one_compute_budget(caplog):
    """One isoFLOP sweep: N and D are tied, so the law's answer at other budgets rests on its priors."""
    N = np.logspace(8, 10, 8)
    runs = runs_from_frame(pd.DataFrame({"N": N, "D": 1e20 / (6 * N), "loss": np.linspace(2.7, 2.5, 8)}))
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs.check_identifiable(["N", "D"], 5, "chinchilla")
    (record,) = caplog.records
    assert record.getMessage().startswith("compute spans only 1× across the 8 runs (one isoFLOP sweep)")
    caplog.clear()
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs_from_frame(table()).check_identifiable(["N", "D"], 5, "chinchilla")  # budgets span 4,096×: quiet
    assert caplog.records == []


def test_last_per_keeps_each_runs_final_checkpoint(caplog):
    """A table of training curves: rows sharing a run's id are its checkpoints; the one with the
    most tokens is the run's final loss (a tie keeps the later row)."""
    df = pd.DataFrame({"run": ["a", "a", "a", "b", "b", "c", "c"], "lr": [1, 1, 1, 1, 1, 2, 2],
                       "N": [1e8, 1e8, 1e8, 4e8, 4e8, 1.6e9, 1.6e9], "D": [1e9, 3e9, 2e9, 4e9, 8e9, 5e9, 5e9],
                       "loss": [3.5, 3.1, 3.3, 3.0, 2.8, 2.75, 2.7]})
    with caplog.at_level("WARNING", logger="bayescale"):
        runs = runs_from_frame(df, last_per=["run"])
    np.testing.assert_allclose(runs.D, [3e9, 8e9, 5e9])
    np.testing.assert_allclose(runs.loss, [3.1, 2.8, 2.7])
    assert "final checkpoint (per run, the row with the most tokens: 3 of 7 rows)" in runs.selection
    assert "selected: each run's final checkpoint" in runs.describe() and "kept each run's" in caplog.text
    # a run named by two columns, after the row filters
    runs = runs_from_frame(df, last_per=["run", "lr"], exclude_where=["D>=8e9"])
    np.testing.assert_allclose(runs.loss, [3.1, 3.0, 2.7])
    assert "per run and lr" in runs.selection
    with pytest.raises(RunsError, match="no column 'run_id'.*--last-per.*'run', 'lr'"):
        runs_from_frame(df, last_per=["run_id"])


def test_reference_scales_are_geometric_means():
    runs = runs_from_frame(table())
    assert math.isclose(runs.N_ref, float(np.prod(runs.N)) ** (1 / 6), rel_tol=1e-12)
    assert math.isclose(runs.D_ref, math.exp(np.log(runs.D).mean()), rel_tol=1e-12)
    assert math.isclose(runs.C_ref, math.exp(np.log(runs.C).mean()), rel_tol=1e-12)


def test_describe():
    text = runs_from_frame(table()).describe()
    assert text.splitlines()[0].startswith("6 runs")
    assert "1e8 – 3.2e9 parameters (6 sizes" in text and "nats/token" in text


def test_chinchilla_file():
    if not CHINCHILLA.exists():
        pytest.skip("chinchilla_runs.csv not available")
    runs = read_runs(CHINCHILLA, exclude_where=["epoch_excluded_outlier=1"])
    assert runs.n_runs == 240
    assert runs.columns["N"] == "N_params" and runs.columns["C"] == "C_flops"
    assert math.isclose(runs.N.min(), 5.73e7, rel_tol=1e-2)
    assert math.isclose(runs.N.max(), 1.62e10, rel_tol=1e-2)


# --- unique tokens U (data-constrained laws) ----------------------------------------------------


def table_with_u(n: int = 6, name: str = "U_unique_tokens") -> pd.DataFrame:
    """``table(n)`` plus a unique-token column: runs 0, 2, 4 repeat their data (U < D), the others not."""
    df = table(n)
    df[name] = df["D_tokens"] * np.array([0.25, 1.0, 0.5, 2.0, 0.1, 1.0, 0.3, 5.0])[:n]
    return df


@pytest.mark.parametrize("name", ["U", "U_unique_tokens", "unique_tokens", "Unique_Tokens"])
def test_u_column_detected(name):
    df = table_with_u(name=name)
    runs = runs_from_frame(df)
    assert list(runs.frame.columns) == ["N", "D", "C", "loss", "U"]
    assert all(runs.frame[c].dtype == np.float64 for c in runs.frame.columns)
    assert runs.has_U and runs.columns["U"] == name
    np.testing.assert_array_equal(runs.U, df[name].to_numpy(float))
    # N, D, C and loss are read exactly as without U
    plain = runs_from_frame(df.drop(columns=[name]))
    pd.testing.assert_frame_equal(runs.frame[["N", "D", "C", "loss"]], plain.frame)


def test_u_column_explicit_and_unknown(tmp_path):
    df = table_with_u(name="uniq")
    assert not runs_from_frame(df).has_U  # "uniq" is no candidate name: no U
    runs = runs_from_frame(df, u_col="uniq")
    np.testing.assert_array_equal(runs.U, df["uniq"].to_numpy(float))
    df.to_csv(tmp_path / "r.csv", index=False)
    assert read_runs(tmp_path / "r.csv", u_col="uniq").columns["U"] == "uniq"
    with pytest.raises(RunsError) as err:
        runs_from_frame(df, u_col="unique")
    assert "--u-col" in str(err.value) and "'uniq'" in str(err.value)


def test_a_u_column_found_by_name_but_partly_empty_is_left_unread_with_a_warning(caplog):
    """ColPret's long table names a column unique_tokens and fills it for 9,000 of 48,000 rows:
    laws without U must not be refused for it. Named with --u-col, the gaps are an error."""
    df = table_with_u(name="unique_tokens")
    df.loc[[1, 3], "unique_tokens"] = np.nan
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = runs_from_frame(df)
    assert not runs.has_U and "unique_tokens" not in runs.columns.values()
    assert "empty in 2 of 6 runs" in caplog.text and "--u-col" in caplog.text
    with pytest.raises(RunsError, match="missing or NaN"):
        runs_from_frame(df, u_col="unique_tokens")
    kept = runs_from_frame(df, where=["unique_tokens>0"])  # the rows that have it keep U
    assert kept.has_U and kept.n_runs == 4


def test_without_u_the_frame_and_hash_are_unchanged():
    """Tables without U keep the four columns and the hash they always had."""
    import hashlib

    runs = runs_from_frame(table())
    assert list(runs.frame.columns) == ["N", "D", "C", "loss"] and not runs.has_U
    digest = hashlib.sha256(np.ascontiguousarray(runs.frame[["N", "D", "C", "loss"]].to_numpy("<f8")).tobytes())
    digest.update(b"nats/token")
    assert runs.data_hash == "sha256:" + digest.hexdigest()
    with pytest.raises(RunsError, match="--u-col"):
        _ = runs.U


def test_u_enters_the_hash_only_when_present():
    with_u = runs_from_frame(table_with_u())
    without = runs_from_frame(table())
    assert with_u.data_hash != without.data_hash
    other = table_with_u()
    other.loc[0, "U_unique_tokens"] *= 2
    assert runs_from_frame(other).data_hash != with_u.data_hash
    # the hash does not depend on the order of the frame's columns (a saved fit rebuilds it)
    from bayescale.data.runs import Runs

    shuffled = Runs(frame=with_u.frame[["U", "loss", "C", "D", "N"]], source="x", columns={})
    assert shuffled.data_hash == with_u.data_hash


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "not numbers"), (float("inf"), "infinite"), (0.0, "zero or negative"), (-1e9, "zero or negative")],
)
def test_u_validated_like_the_others(tmp_path, value, message):
    """(An empty cell is not an error unless U is named: see the test above.)"""
    df = table_with_u().astype({"U_unique_tokens": object})
    df.loc[2, "U_unique_tokens"] = value
    df.to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(RunsError) as err:
        read_runs(tmp_path / "r.csv")
    assert message in str(err.value) and "line 4" in str(err.value) and "U_unique_tokens" in str(err.value)


def test_u_above_d_is_allowed_and_u_distinguishes_runs():
    df = table_with_u()
    assert (df["U_unique_tokens"] > df["D_tokens"]).any()
    runs_from_frame(df)  # U >= D means no repetition: valid
    twin = pd.concat([df.iloc[[0]], df.iloc[[0]]], ignore_index=True)
    twin.loc[1, "U_unique_tokens"] *= 2  # same N, D, C, loss; other U: two different runs
    assert runs_from_frame(twin).n_runs == 2
    with pytest.raises(RunsError, match="same N, D, C, U and loss"):
        runs_from_frame(pd.concat([df.iloc[[0]], df.iloc[[0]]], ignore_index=True))


def test_check_identifiable_with_u():
    runs = runs_from_frame(table_with_u())
    runs.check_identifiable(["N", "D", "U"], 3, "data_constrained")  # some runs repeat: fine
    with pytest.raises(RunsError) as err:
        runs_from_frame(table()).check_identifiable(iter(["N", "D", "U"]), 3, "data_constrained")
    assert "unique training tokens U" in str(err.value) and "--u-col" in str(err.value)
    no_repeats = table_with_u()
    no_repeats["U_unique_tokens"] = no_repeats["D_tokens"] * 3
    with pytest.raises(RunsError) as err:
        runs_from_frame(no_repeats).check_identifiable(["N", "D", "U"], 3, "data_constrained")
    assert "no run repeats its data" in str(err.value) and "6 runs" in str(err.value)
    runs_from_frame(no_repeats).check_identifiable(["N", "D"], 3, "chinchilla")  # U unused: fine


def test_describe_with_u():
    text = runs_from_frame(table_with_u()).describe()
    assert "unique tokens" in text and "column U_unique_tokens" in text
    assert "3 of 6 runs repeat data" in text and "up to 10 epochs" in text
    assert "unique tokens" not in runs_from_frame(table()).describe()


# --- column units ----------------------------------------------------------------------------------


def test_columns_in_billions_and_trillions_become_parameters_and_tokens():
    df = table().drop(columns=["C_flops"])
    scaled = df.assign(N_params=df["N_params"] / 1e9, D_tokens=df["D_tokens"] / 1e12)
    runs = runs_from_frame(scaled, units={"N": "billion", "D": 1e12})
    plain = runs_from_frame(df)
    np.testing.assert_allclose(runs.frame.to_numpy(), plain.frame.to_numpy(), rtol=1e-12)
    assert runs.multipliers == {"N": 1e9, "D": 1e12} and plain.multipliers == {}
    assert "column N_params × 1e+09" in runs.describe() and "column D_tokens × 1e+12" in runs.describe()


@pytest.mark.parametrize("n, d, c, loss, units", [
    ("Parameters (M)", "Tokens", None, "eval/loss", {"N": 1e6}),
    ("model_size_B", "tokens_B", None, "Final Val Loss", {"N": 1e9, "D": 1e9}),
    ("params", "tokens_in_billions", None, "loss", {"D": 1e9}),
    ("non_embedding_params", None, "pf_days", "final_loss", {"C": 8.64e19}),
])
def test_names_written_as_people_write_them_are_found_with_their_units(n, d, c, loss, units, caplog):
    """Headers of spreadsheets and papers: spaces, slashes and case, a unit after the name, compute in
    petaflop/s-days. The unit in a name is applied, and said, unless the user gives one."""
    df = table().drop(columns=["C_flops", "tag"])
    scaled = {n: df.N_params / units.get("N", 1), loss: df.loss}
    if d:
        scaled[d] = df.D_tokens / units.get("D", 1)
    if c:
        scaled[c] = 6 * df.N_params * df.D_tokens / units["C"]
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = runs_from_frame(pd.DataFrame(scaled))
    assert (runs.columns["N"], runs.columns["loss"]) == (n, loss)
    assert runs.multipliers == units
    np.testing.assert_allclose(runs.N, df.N_params, rtol=1e-12)
    np.testing.assert_allclose(runs.C, 6 * df.N_params * df.D_tokens, rtol=1e-9)
    assert all(f"as {var} in units of" in caplog.text for var in units)
    assert (runs.n_convention == "non-embedding") == n.startswith("non_embedding")
    # a unit the user gives wins over the name's
    given = runs_from_frame(pd.DataFrame(scaled), units={var: 1.0 for var in units})
    assert given.multipliers == {var: 1.0 for var in units}


@pytest.mark.parametrize("column, unit", [("val_bpb", "bits/byte"), ("bpc_average", "bits/char"),
                                          ("Eval/BPB", "bits/byte"), ("loss", "nats/token")])
def test_a_loss_named_in_bits_per_byte_or_character_is_read_in_that_unit(column, unit, caplog):
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8], "D": [1e9, 2e9, 3e9], column: [1.0, 0.9, 0.8]})
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = runs_from_frame(df, loss_col=column if column == "bpc_average" else None)
    assert runs.loss_unit == unit
    assert (f"as a loss in {unit}" in caplog.text) == (unit != "nats/token")
    assert runs_from_frame(df, loss_col=column, loss_unit="nats/token").loss_unit == "nats/token"  # given wins


def test_sizes_written_with_suffixes_are_read_and_only_unreadable_cells_are_named(caplog):
    df = pd.DataFrame({"params": ["125M", "350M", "1.3B", "2.7b", "6.7B"], "tokens": ["2.5B", "7B", "26B", "54e9", "0.134T"],
                       "loss": [3.9, 3.5, 3.0, 2.8, 2.6]})
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = runs_from_frame(df)
    np.testing.assert_allclose(runs.N, [1.25e8, 3.5e8, 1.3e9, 2.7e9, 6.7e9])
    np.testing.assert_allclose(runs.D, [2.5e9, 7e9, 2.6e10, 5.4e10, 1.34e11])
    assert "'125M' as 1.25e+08" in caplog.text
    grouped = runs_from_frame(df.assign(params=["125,000,000", "350,000,000", "1,300,000,000", "2.7e9", "6,700,000,000"]))
    np.testing.assert_allclose(grouped.N, [1.25e8, 3.5e8, 1.3e9, 2.7e9, 6.7e9])
    bad = df.assign(tokens=["2.5B", "seven", "26B", None, "0.134T"])
    with pytest.raises(RunsError) as err:
        runs_from_frame(bad)
    assert "tokens='seven'" in str(err.value) and "2.5B" not in str(err.value)
    with pytest.raises(RunsError, match="not numbers.*loss='3.9x'"):  # the loss takes no suffix
        runs_from_frame(df.assign(loss=["3.9x", "3.5", "3.0", "2.8", "2.6"]))


def test_a_missing_column_is_named_on_the_command_line_and_in_python():
    with pytest.raises(RunsError, match=r"--loss-col COLUMN \(loss_col= in Python\)"):
        runs_from_frame(pd.DataFrame({"N": [1e8, 2e8], "D": [1e9, 2e9], "score": [3.0, 2.9]}))


def test_describe_counts_one_budget_where_6nd_differs_by_float_noise():
    n = np.array([2e7, 5e7, 1e8, 2e8, 4e8, 8e8])
    runs = runs_from_frame(pd.DataFrame({"N": n, "D": 1e19 / 6 / n, "loss": np.linspace(3.4, 3.0, 6)}))
    assert "(1 budget;" in runs.describe() and "(6 sizes;" in runs.describe()


def test_columns_that_look_like_the_missing_one_are_named():
    df = pd.DataFrame({"N_active_billions": [1.0, 2.0], "N_total_billions": [1.0, 8.0], "D": [1e12, 2e12],
                       "loss_c4_val": [3.0, 2.9], "loss_ptb": [3.5, 3.4], "tag": ["a", "b"]})
    with pytest.raises(RunsError, match="look like N: 'N_active_billions', 'N_total_billions'; name the one meant"):
        runs_from_frame(df)
    with pytest.raises(RunsError, match="look like a loss: 'loss_c4_val', 'loss_ptb'"):
        runs_from_frame(df, n_col="N_active_billions")


def test_the_one_column_named_like_a_loss_is_taken_with_a_note(caplog):
    """A loss logged under its evaluation's path ('eval/paloma/c4_en/bpb') is the loss when no other
    numeric column is named like one; its unit is read from the name."""
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8], "D": [2e9, 4e9, 8e9], "eval/paloma/c4_en/bpb": [1.2, 1.1, 1.0],
                       "loss_tag": ["a", "b", "c"]})
    with caplog.at_level("WARNING", logger="bayescale"):
        runs = runs_from_frame(df)
    assert runs.columns["loss"] == "eval/paloma/c4_en/bpb" and runs.loss_unit == "bits/byte"
    assert "the one numeric column named like a loss" in caplog.text and "--loss-col" in caplog.text


def test_a_table_that_mixes_setups_is_named_and_seeds_or_families_are_not(caplog):
    """Most repeated (N, D) pairs differing by more than seeds do (> 2%) mean the table mixes
    setups (Porian et al.'s 15 in one file, Gadre et al.'s three datasets); repeats by seed and
    families given with --family-col do not warn."""
    rng = np.random.default_rng(0)
    n = np.repeat([1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9], 2)
    d = 20 * n
    base = 1.7 + 400 / n**0.34 + 410 / d**0.28
    setups = pd.DataFrame({"N": n, "D": d, "loss": base * np.tile([1.0, 1.06], 6), "data": np.tile(["a", "b"], 6)})
    seeds = setups.assign(loss=base * np.exp(0.003 * rng.standard_normal(12)))
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs_from_frame(setups)
    assert "6 of the 6 (N, D) pairs that appear more than once differ in loss by more than 2%" in caplog.text
    assert "may mix setups" in caplog.text and "--family-col" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs_from_frame(seeds)
        runs_from_frame(setups, family_col="data")
    assert "mix setups" not in caplog.text


def test_a_table_of_compute_and_loss_alone_is_read_for_the_laws_in_compute(caplog):
    """A compute-loss table (a frontier read off a paper's figure) is read without N or D; what
    needs them says so, in the API's terms, and names the laws that do not."""
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = runs_from_frame(pd.DataFrame({"flops": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.6, 2.5]}))
    assert not runs.has_sizes and list(runs.frame.columns) == ["C", "loss"]
    assert "compute and loss only" in caplog.text and any("compute and loss only" in n for n in runs.notes)
    assert "N, D  not given: compute and loss only" in runs.describe()
    np.testing.assert_allclose(runs.C, [1e18, 1e19, 1e20, 1e21])
    assert np.isnan(runs.N_ref) and runs.C_ref == pytest.approx(10**19.5)
    with pytest.raises(RunsError, match="compute and loss only, not N.*compute_power, compute_loglinear.*column of N or of D"):
        _ = runs.N
    runs.check_identifiable(("C",), 3, "compute_power")  # a law in compute alone can be fitted
    with pytest.raises(RunsError, match="law 'chinchilla' needs the model size N and tokens D.*compute and loss only"):
        runs.check_identifiable(("N", "D"), 5, "chinchilla")
    assert runs.data_hash != runs_from_frame(runs.frame.assign(loss=runs.loss + 0.1)).data_hash
    with pytest.raises(RunsError, match="cannot find the N column"):  # a loss alone is no table
        runs_from_frame(pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.8, 2.6]}))
    caplog.clear()
    with caplog.at_level("WARNING", logger="bayescale.data"):  # unique tokens mean nothing without D
        with_u = runs_from_frame(pd.DataFrame({"C": [1e18, 1e19, 1e20], "loss": [3.0, 2.8, 2.6], "U": [1e9] * 3}))
    assert not with_u.has_U and "U" not in with_u.columns and "'U' (U, unique tokens) is not read" in caplog.text
    assert "compute and loss only" in with_u.describe()


def test_a_perplexity_column_is_named_when_no_loss_is_found():
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8], "D": [1e9, 2e9, 3e9], "ppl": [20.0, 18.0, 16.0]})
    with pytest.raises(RunsError, match="'ppl' looks like a perplexity.*natural log.*--loss-unit perplexity"):
        runs_from_frame(df)


def test_a_perplexity_column_is_read_as_its_log_when_declared(caplog):
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8], "D": [1e9, 2e9, 3e9], "ppl": [20.0, 18.0, 16.0]})
    with caplog.at_level("WARNING", logger="bayescale"):
        runs = runs_from_frame(df, loss_col="ppl", loss_unit="perplexity")
    np.testing.assert_allclose(runs.loss, np.log([20.0, 18.0, 16.0]))
    assert runs.loss_unit == "nats/token" and "natural log" in caplog.text
    df.loc[1, "ppl"] = 0.9  # not a perplexity: a loss, or a typo
    with pytest.raises(RunsError, match="perplexities, which are at least 1: row 1 \\(ppl=0.9\\)"):
        runs_from_frame(df, loss_col="ppl", loss_unit="perplexity")


def test_a_unit_without_its_column_or_of_an_unknown_quantity_is_refused():
    with pytest.raises(RunsError, match="--u-unit was given, but"):
        runs_from_frame(table(), units={"U": 1e9})
    with pytest.raises(RunsError, match="not 'loss'"):
        runs_from_frame(table(), units={"loss": 2.0})
    for bad in ("lots", "0", "-1e9", "nan", "inf"):
        with pytest.raises(RunsError) as err:
            runs_from_frame(table(), units={"N": bad})
        assert "--n-unit" in str(err.value) and "billion" in str(err.value)


def test_cli_units_reach_the_runs(tmp_path):
    from bayescale.cli.options import _read_runs
    from bayescale.cli.parser import _parser

    df = table()
    df.assign(N_params=df["N_params"] / 1e6).to_csv(tmp_path / "r.csv", index=False)
    args = _parser().parse_args(["isoflop", str(tmp_path / "r.csv"), "--n-unit", "M"])
    np.testing.assert_allclose(_read_runs(args).N, df["N_params"], rtol=1e-12)


def test_row_filters_compare_and_keep_only(tmp_path):
    df = table()
    df["epochs"] = [1, 4, 100, 200, 1, 3]
    # comparisons, parsed (never evaluated); >= is not read as >
    assert runs_from_frame(df, exclude_where=["epochs>100"]).n_runs == 5
    assert runs_from_frame(df, exclude_where=["epochs>=100"]).n_runs == 4
    assert runs_from_frame(df, where=["epochs<=3"]).n_runs == 3
    kept = runs_from_frame(df, where=["tag=a", "epochs!=1"])  # where-items are AND-ed
    assert kept.n_runs == 1 and kept.excluded == 5
    assert runs_from_frame(df, where=["tag != a"]).n_runs == 3
    with pytest.raises(RunsError, match="holds text; compare it with = or != only"):
        runs_from_frame(df, where=["tag>a"])
    with pytest.raises(RunsError, match="no runs"):
        runs_from_frame(df, where=["epochs>1000"])
    with pytest.raises(RunsError, match="no column '__import__"):
        runs_from_frame(df, where=["__import__('os')=1"])


def test_tokens_per_parameter_give_d(caplog):
    """A data budget written as tokens per parameter (over-training studies' tables) is D / N:
    found by its name, or declared with units={'D': 'per-param'} (--d-unit per-param)."""
    n = np.array([1e8, 3e8, 1e9, 1e8, 3e8, 1e9])
    ratio = np.array([20.0, 20.0, 20.0, 80.0, 80.0, 80.0])
    loss = 1.7 + 400 / n**0.34 + 410 / (ratio * n) ** 0.28
    with caplog.at_level("WARNING", logger="bayescale.data"):
        named = runs_from_frame(pd.DataFrame({"params": n, "tokens_per_param": ratio, "loss": loss}))
    np.testing.assert_allclose(named.D, ratio * n)
    np.testing.assert_allclose(named.C, 6 * ratio * n * n)
    assert named.columns["D"] == "derived: N × tokens_per_param" and "tokens per parameter" in caplog.text
    declared = runs_from_frame(pd.DataFrame({"N": n / 1e6, "M": ratio, "loss": loss}), d_col="M",
                               units={"N": "million", "D": "per-param"})
    np.testing.assert_allclose(declared.D, ratio * n)  # N's own unit applies first
    budgets = runs_from_frame(pd.DataFrame({"flops": 6 * ratio * n * n, "tokens_per_param": ratio, "loss": loss}))
    np.testing.assert_allclose(budgets.N, n)  # C = 6ND = 6 r N²: N and D both follow
    np.testing.assert_allclose(budgets.D, ratio * n)
    assert budgets.columns["N"] == "derived: √(C/(6·tokens_per_param))"
    given = runs_from_frame(pd.DataFrame({"C": 6 * ratio * n * n, "M": ratio, "loss": loss}), d_col="M",
                            units={"D": "per-param"})
    np.testing.assert_allclose(given.N, n)
    with pytest.raises(RunsError, match="--d-unit per-param was given, but .* has no D column"):  # a KeyError once
        runs_from_frame(pd.DataFrame({"N": n, "C": 6 * ratio * n * n, "loss": loss}), units={"D": "per-param"})
    with pytest.raises(RunsError, match="only D is given per parameter"):
        runs_from_frame(pd.DataFrame({"N": n, "M": ratio, "loss": loss}), d_col="M", units={"N": "per-param"})
    with pytest.raises(RunsError, match="--d-col COLUMN --d-unit per-param"):  # an unknown name is told the way
        runs_from_frame(pd.DataFrame({"N": n, "M": ratio, "loss": loss}))
    caplog.clear()
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs_from_frame(pd.DataFrame({"N": n, "M": ratio, "loss": loss}), d_col="M")
    assert "if it holds tokens per parameter, --d-unit per-param" in caplog.text


@pytest.mark.parametrize("header", [("parameters (N)", "tokens (D)", "loss (L)"), ("N (params)", "D [tokens]", "L"),
                                    ("model_params", "dataset_tokens", "eval_loss")])
def test_columns_named_with_a_symbol_in_brackets_or_alone_of_their_kind_are_found(header, caplog):
    """Papers' tables write 'parameters (N)' or 'N (params)'; a lone 'dataset_tokens' is the tokens.
    Each was refused as having no N or D column."""
    n, d = np.array([1e8, 3e8, 1e9, 1e8]), np.array([2e9, 6e9, 2e10, 8e9])
    frame = pd.DataFrame(dict(zip(header, (n, d, 1.7 + 400 / n**0.34 + 410 / d**0.28))))
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = runs_from_frame(frame)
    assert (runs.columns["N"], runs.columns["D"], runs.columns["loss"]) == header
    np.testing.assert_allclose(runs.D, d)
    if header[1] == "dataset_tokens":
        assert "using column 'dataset_tokens' for D (tokens), the one numeric column named like tokens" in caplog.text


def test_a_lone_column_is_not_taken_for_what_its_name_says_it_is_not():
    """'tokens_per_second' and 'unique_tokens' name other things than the tokens trained on."""
    frame = pd.DataFrame({"N": [1e8, 3e8, 1e9], "tokens_per_second": [1e5, 2e5, 3e5], "loss": [3.0, 2.8, 2.6]})
    with pytest.raises(RunsError, match="need a D \\(tokens\\) or C \\(compute\\) column"):
        runs_from_frame(frame)


def test_runs_in_json_as_trackers_and_scripts_write_them(tmp_path):
    """A list of runs (nested as experiment trackers export them), runs by name, one a line, or
    columns; anything else is told the shapes read."""
    import json

    records = [{"name": f"r{i}", "config": {"params": n, "tokens": d, "lr": 3e-4},
                "summary": {"train/loss": 1.75 + 400 / n**0.34, "eval/loss": 1.7 + 400 / n**0.34}}
               for i, (n, d) in enumerate([(1e8, 2e9), (3e8, 6e9), (1e9, 2e10), (1e8, 8e9)])]
    (tmp_path / "runs.json").write_text(json.dumps(records))
    nested = read_runs(tmp_path / "runs.json")
    assert nested.columns["N"] == "config/params" and nested.columns["loss"] == "summary/eval/loss"  # eval before train
    assert any("the table also has 'summary/train/loss'" in note for note in nested.notes)
    np.testing.assert_allclose(nested.D, [2e9, 6e9, 2e10, 8e9])
    (tmp_path / "named.json").write_text(json.dumps({r["name"]: {"N": r["config"]["params"], "D": r["config"]["tokens"],
                                                                 "loss": r["summary"]["eval/loss"]} for r in records}))
    (tmp_path / "runs.jsonl").write_text("\n".join(json.dumps({"N": r["config"]["params"], "D": r["config"]["tokens"],
                                                               "loss": r["summary"]["eval/loss"]}) for r in records))
    (tmp_path / "columns.json").write_text(json.dumps({"N": [1e8, 3e8, 1e9], "D": [2e9, 6e9, 2e10], "loss": [3.0, 2.8, "x"]}))
    for name in ("named.json", "runs.jsonl"):
        np.testing.assert_allclose(read_runs(tmp_path / name).frame.to_numpy(), nested.frame.to_numpy())
    with pytest.raises(RunsError, match="values that are not numbers: run 3 \\(loss='x'\\)"):
        read_runs(tmp_path / "columns.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RunsError, match="cannot read .*bad.json' as json"):
        read_runs(tmp_path / "bad.json")
    (tmp_path / "number.json").write_text("42")
    with pytest.raises(RunsError, match="a list of objects, one a run"):
        read_runs(tmp_path / "number.json")


def test_a_row_of_units_under_the_header_is_read_as_units_or_skipped(tmp_path, caplog):
    """Digitized tables often put units under the names: multipliers (M, B) are applied, a loss's
    bits per byte is its unit, other words are skipped; each with a note, and line numbers stay."""
    path = tmp_path / "runs.csv"
    path.write_text("model,params,tokens,loss\n,M,B,bpb\na,100,2,1.3\nb,300,6,1.2\nc,1000,20,1.1\nd,100,8,1.25\n")
    with caplog.at_level("WARNING", logger="bayescale.data"):
        runs = read_runs(path)
    np.testing.assert_allclose(runs.N, [1e8, 3e8, 1e9, 1e8])
    np.testing.assert_allclose(runs.D, [2e9, 6e9, 2e10, 8e9])
    assert runs.loss_unit == "bits/byte" and "line 2 holds no numbers" in caplog.text
    assert "the row of units says 'M'" in caplog.text
    explicit = read_runs(path, units={"N": 1e6, "D": 1})  # a unit given wins over the row's
    np.testing.assert_allclose(explicit.D, [2, 6, 20, 8])
    path.write_text("params,tokens,loss\ncount,count,nats\n1e8,2e9,3.3\nx,6e9,3.0\n")
    with pytest.raises(RunsError, match="line 4 \\(params='x'\\)"):  # the row below is still line 4
        read_runs(path)


def test_a_message_names_thirty_columns_at_most():
    """A tracker's export has hundreds of columns: the message names thirty and counts the rest."""
    frame = pd.DataFrame({f"metric_{i}": [1.0, 2.0] for i in range(300)})
    with pytest.raises(RunsError, match="'metric_29' and 270 more\\)") as err:
        runs_from_frame(frame)
    assert "'metric_30'" not in str(err.value)
