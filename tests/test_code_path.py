"""gadlib.pin_code_path: opt-in, only where the variables mean something, never over the user's."""
import gadlib


def test_pin_is_opt_in_and_keeps_what_the_user_set(monkeypatch):
    monkeypatch.setattr(gadlib, "_has_avx2", lambda: True)
    assert gadlib.pin_code_path({}) == {}
    env = {"GADLAB_PIN_CODE_PATH": "1", "MKL_CBWR": "COMPATIBLE"}
    assert gadlib.pin_code_path(env) == {"ATEN_CPU_CAPABILITY": "avx2"}
    assert env["MKL_CBWR"] == "COMPATIBLE"
    monkeypatch.setattr(gadlib, "_has_avx2", lambda: False)   # an ARM Mac, an old x86
    assert gadlib.pin_code_path({"GADLAB_PIN_CODE_PATH": "1"}) == {}
