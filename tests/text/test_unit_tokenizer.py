import json

from slmscale.text.unit_tokenizer import complete_final_dir, unit_tokenizer


def test_unit_tokenizer_round_trips_unit_strings(tmp_path):
    from transformers import AutoTokenizer

    unit_tokenizer(7, {"bos": 5, "eos": 6}).save_pretrained(str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    assert len(tok) == 7 and tok.bos_token_id == 5 and tok.eos_token_id == 6 and tok.pad_token_id == 6
    assert tok("3 1 4  0", add_special_tokens=False).input_ids == [3, 1, 4, 0]
    assert tok.decode([3, 1, 4]) == "3 1 4"
    assert tok.convert_ids_to_tokens([0, 4, 5, 6]) == ["0", "4", "<bos>", "<eos>"]


def test_complete_final_dir_adds_tokenizer_and_turns_cache_on(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "use_cache": False}))
    complete_final_dir(tmp_path, {"modality": "units", "vocab_size": 34, "special_tokens": {"bos": 32, "eos": 33}})
    assert json.loads((tmp_path / "config.json").read_text())["use_cache"] is True
    assert (tmp_path / "tokenizer.json").is_file()
    # A text run's own tokenizer (copied before) is left alone.
    other = tmp_path / "text"
    other.mkdir()
    (other / "tokenizer.json").write_text("{}")
    complete_final_dir(other, {"modality": "units", "vocab_size": 4, "special_tokens": {}})
    assert (other / "tokenizer.json").read_text() == "{}"
