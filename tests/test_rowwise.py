"""Which models a snapshot-incremental run may build from an input's new rows alone (no lake needed)."""

from __future__ import annotations

import pytest

from lakehouse.elt.rowwise import not_row_wise

T = "bronze.events"


@pytest.mark.parametrize(
    ("sql", "keyed"),
    [
        ("SELECT a, b * 2 AS c FROM bronze.events WHERE a IS NOT NULL", False),
        ("SELECT DISTINCT a FROM bronze.events", True),  # new copies merge onto old ones
        ("SELECT * FROM bronze.events AS e JOIN bronze.users AS u USING (id)", False),
        ("SELECT * FROM bronze.events AS e LEFT JOIN bronze.users AS u USING (id)", False),
        ("SELECT * FROM bronze.users AS u RIGHT JOIN bronze.events AS e USING (id)", False),
        ("WITH x AS (SELECT * FROM bronze.events) SELECT * FROM x", False),
        ("SELECT * FROM (SELECT * FROM bronze.events) AS t WHERE ts > (SELECT max(ts) FROM silver.m)", False),
        ("SELECT a FROM bronze.events UNION ALL SELECT a FROM bronze.other", False),
        ("SELECT a FROM bronze.events UNION SELECT a FROM bronze.other", True),
    ],
)
def test_row_wise_models(sql: str, keyed: bool) -> None:
    assert not_row_wise(sql, T, keyed) == ""


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("SELECT DISTINCT a FROM bronze.events", "DISTINCT without a unique_key"),
        ("SELECT user_id, count(*) FROM bronze.events GROUP BY 1", "GROUP BY"),
        ("SELECT count(*) AS n FROM bronze.events", "an aggregate (COUNT(*))"),
        ("SELECT sum(x) OVER (PARTITION BY u) FROM bronze.events", "a window function"),
        ("SELECT * FROM bronze.events LIMIT 5", "LIMIT"),
        ("SELECT * FROM bronze.users AS u LEFT JOIN bronze.events AS e USING (id)", "a LEFT JOIN"),
        ("SELECT * FROM bronze.events AS e FULL JOIN bronze.users AS u USING (id)", "a FULL JOIN"),
        ("SELECT * FROM bronze.users AS u ANTI JOIN bronze.events AS e USING (id)", "ANTI JOIN"),
        (
            "SELECT * FROM bronze.l AS l ASOF JOIN bronze.events AS f ON l.id = f.id AND l.ts >= f.ts",
            "ASOF JOIN",
        ),
        ("SELECT * FROM bronze.users WHERE id IN (SELECT id FROM bronze.events)", "a subquery"),
        ("SELECT a FROM bronze.events EXCEPT SELECT a FROM bronze.other", "EXCEPT"),
        (
            "SELECT * FROM bronze.events AS a JOIN bronze.events AS b USING (id)",
            "it reads bronze.events 2 times",
        ),
        (
            "WITH x AS (SELECT * FROM bronze.events) SELECT * FROM x JOIN x AS y USING (id)",
            "the CTE x 2 times",
        ),
    ],
)
def test_models_that_rebuild_name_the_construct(sql: str, problem: str) -> None:
    assert problem in not_row_wise(sql, T, keyed=False)
