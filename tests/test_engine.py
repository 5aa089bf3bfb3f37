"""One engine per server process: the pages and the HTTP API share it and its writer gate."""

from types import SimpleNamespace

from models import db
from pages import common
from survey.api import routes


def test_the_pages_and_the_api_use_the_one_engine_of_the_process(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'pulse.db'}")
    db.default_engine.cache_clear()
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))
    engine = common.engine()
    assert routes._engine(request) is engine
    assert common.engine() is engine is db.default_engine()
    assert str(engine.url).endswith("pulse.db")
    db.default_engine.cache_clear()
