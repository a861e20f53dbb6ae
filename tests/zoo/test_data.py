"""Data arguments are read in one place (lumos.zoo.data): zoo datasets by their declared kind, CSV files of texts
or of a table by their header, and bad arguments with an error naming the argument."""

import numpy as np
import pandas as pd
import pytest

from lumos import zoo
from lumos.errors import InvalidArgumentError
from lumos.zoo.data import KINDS, dataset_kind, load_images, load_labelled, load_labelled_texts, load_table

CLASSES = ("negative", "neutral", "positive")


def test_every_zoo_dataset_declares_its_kind():
    """Each zoo dataset's class says what it holds, in the words models are described with."""
    kinds = {name: dataset_kind(name) for name in zoo.datasets()}
    assert kinds == {"airline-tweets": "texts", "breast-cancer": "tables", "credit": "tables",
                     "skimage-photos": "images", "digits": "images", "diabetes": "tables"}
    assert set(kinds.values()) <= set(KINDS) and dataset_kind("my.csv") is None


def test_a_csv_of_texts_reads_labels_by_name_or_index_and_rationales(tmp_path):
    """Labels may be class names or indices; a 'rationale' column is kept; load_labelled gives the same texts."""
    path = tmp_path / "mine.csv"
    path.write_text("text,label,rationale\nso late again,negative,late\nthanks a lot,2,\n", encoding="utf-8")
    texts = load_labelled_texts(str(path), CLASSES)
    assert texts.texts == ("so late again", "thanks a lot") and texts.labels.tolist() == [0, 2]
    assert texts.rationales == ("late", "") and texts.name == "mine.csv"
    labelled = load_labelled(str(path), CLASSES)
    assert labelled.kind == "texts" and labelled.inputs == list(texts.texts) and labelled.train is None
    np.testing.assert_array_equal(labelled.labels, texts.labels)
    assert labelled.head(1).inputs == ["so late again"] and labelled.head(1).name == "mine.csv, first 1"


def test_a_csv_table_is_a_dataframe_without_the_label_column(tmp_path):
    """A CSV without a 'text' column is a table: every other column is a feature; load_table accepts it."""
    path = tmp_path / "rows.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0, 1, 0], "label": ["bad", "good", 1]}).to_csv(path, index=False)
    labelled = load_table(str(path), ("bad", "good"))
    assert labelled.kind == "tables" and list(labelled.inputs.columns) == ["a", "b"]
    assert labelled.labels.tolist() == [0, 1, 1]
    assert labelled.head(2).inputs.equals(labelled.inputs.iloc[:2])
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\nhi,good\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="which holds texts"):
        load_table(str(texts), ("bad", "good"))


def test_zoo_names_give_their_split_and_training_inputs():
    """A zoo text dataset gives its split as texts, a table dataset a DataFrame, both with the train split."""
    tweets = load_labelled("airline-tweets", CLASSES, split="validation")
    part = zoo.dataset("airline-tweets").validation
    assert tweets.kind == "texts" and tweets.inputs == list(part.texts) and tweets.name == "airline-tweets (validation)"
    assert len(tweets.train) == len(zoo.dataset("airline-tweets").train)
    cancer = zoo.dataset("breast-cancer")
    table = load_table("breast-cancer", cancer.class_names)
    assert table.inputs.equals(cancer.test.frame) and table.train.equals(cancer.train.frame)
    digits = load_images("digits", zoo.dataset("digits").class_names)
    assert len(digits.images) == len(zoo.dataset("digits").test) and digits.labels is not None


def test_wrong_kind_or_classes_is_a_clear_error():
    """A table dataset for texts, texts for a table model, images for texts, or other classes all say so."""
    with pytest.raises(InvalidArgumentError, match="'breast-cancer', a zoo dataset without texts"):
        load_labelled_texts("breast-cancer", zoo.dataset("breast-cancer").class_names)
    with pytest.raises(InvalidArgumentError, match="'airline-tweets', a zoo dataset without tables"):
        load_table("airline-tweets", CLASSES)
    with pytest.raises(InvalidArgumentError, match="'digits', a zoo dataset of images"):
        load_labelled("digits", zoo.dataset("digits").class_names)
    with pytest.raises(InvalidArgumentError, match="has classes .* but the model has"):
        load_labelled_texts("airline-tweets", ("bad", "good"))
    with pytest.raises(InvalidArgumentError, match="'airline-tweets' holds no images"):
        load_images("airline-tweets", CLASSES)


@pytest.mark.parametrize("load", [load_labelled_texts, load_labelled, load_table])
def test_a_bad_path_names_the_argument(load, tmp_path):
    """A path that is neither a zoo dataset nor a file is an error naming the argument it came from."""
    with pytest.raises(InvalidArgumentError, match=r"The '--train' argument .* Got '.*nowhere\.csv', which is neither"):
        load(str(tmp_path / "nowhere.csv"), CLASSES, argument="--train")
    with pytest.raises(InvalidArgumentError, match="The 'data' argument must be a zoo dataset"):
        load(str(tmp_path / "nowhere.csv"), CLASSES)


def test_a_bad_csv_label_names_the_line(tmp_path):
    """A label that is neither a class name nor an index below the number of classes names its line."""
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfine,neutral\nawful,angry\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="Line 3 of .*: label 'angry' is not one of"):
        load_labelled(str(path), CLASSES)


def test_a_parquet_file_reads_as_its_csv_twin(tmp_path):
    """A Parquet file of texts or of a table gives what the same data as CSV gives; a file that is not Parquet, or
    one without texts where it has a 'text' column, is a clear error naming the argument."""
    texts = pd.DataFrame({"text": ["so late again", "thanks a lot"], "label": ["negative", "2"]})
    table = pd.DataFrame({"a": [1.5, 2.0, -1.0], "b": [0.0, 3.0, 4.5], "label": [0, 1, 1]})
    for frame, name in ((texts, "texts"), (table, "table")):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        csv, parquet = (load_labelled(str(tmp_path / f"{name}.{suffix}"), CLASSES) for suffix in ("csv", "parquet"))
        assert parquet.kind == csv.kind and parquet.labels.tolist() == csv.labels.tolist()
        assert parquet.name == f"{name}.parquet"
        if csv.kind == "tables":
            pd.testing.assert_frame_equal(parquet.inputs, csv.inputs)
        else:
            assert parquet.inputs == csv.inputs == ["so late again", "thanks a lot"]
    (tmp_path / "fake.parquet").write_text("text,label\nhello,0\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="'--data' file .*not a readable Parquet file"):
        load_labelled(str(tmp_path / "fake.parquet"), CLASSES, argument="--data")
    pd.DataFrame({"text": ["fine", None], "label": [0, 1]}).to_parquet(tmp_path / "holes.parquet")
    with pytest.raises(InvalidArgumentError, match="row 1"):
        load_labelled(str(tmp_path / "holes.parquet"), CLASSES)
    pd.DataFrame({"a": [1.0], "label": ["upward"]}).to_parquet(tmp_path / "wrong.parquet")
    with pytest.raises(InvalidArgumentError, match="upward"):
        load_labelled(str(tmp_path / "wrong.parquet"), CLASSES)
