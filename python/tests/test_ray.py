"""Ray Data reads a fan-out job through hydrant.ray, in a local Ray."""

import pytest

ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'ray[data]'")

KEY = "k3y-in-the-runtime-env"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"SHOP_KEY": KEY}},
    )
    yield
    ray.shutdown()


def test_ray_reads_every_record_of_a_fanout_job_once(local_ray, api, base, tmp_path, monkeypatch):
    import hydrant.ray

    # The driver makes the parts: it loads the job too.
    monkeypatch.setenv("SHOP_KEY", KEY)
    cities = ", ".join(f'"c{i}"' for i in range(10))
    path = tmp_path / "weather.toml"
    path.write_text(
        f'[request]\nurl = "{base}/weather"\nheaders = {{ X-Api-Key = "${{SHOP_KEY}}" }}\n'
        f'[fanout]\nparam = "city"\nvalues = [{cities}]\n'
        '[[columns]]\nname = "city"\n[[columns]]\nname = "n"\ntype = "long"\n'
        '[[columns]]\nname = "temp"\ntype = "double"\n'
    )
    before = len(api.seen)
    ds = hydrant.ray.read_hydrant(str(path), parallelism=3)
    rows = sorted((r["city"], r["n"], r["temp"]) for r in ds.take_all())
    assert rows == sorted((f"c{i}", n, 10.5 + n) for i in range(10) for n in range(3))
    assert {headers.get("x-api-key") for _, headers in api.seen[before:]} == {KEY}
