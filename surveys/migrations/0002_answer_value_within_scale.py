"""A database rule that an answer's value lies on its question's scale.

A check constraint sees one row only and the scale lives on the question, so this is a
trigger, written for each database the project runs on.
"""

from django.db import migrations

MESSAGE = "answer value outside the scale of its question"

POSTGRESQL = [
    f"""
    CREATE FUNCTION surveys_answer_value_within_scale() RETURNS trigger AS $$
    DECLARE
        low smallint;
        high smallint;
    BEGIN
        IF NEW.value IS NULL THEN
            RETURN NEW;
        END IF;
        SELECT scale_min, scale_max INTO low, high
          FROM surveys_question WHERE id = NEW.question_id;
        IF low IS NULL OR NEW.value < low OR NEW.value > high THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER surveys_answer_value_within_scale
    BEFORE INSERT OR UPDATE OF value, question_id ON surveys_answer
    FOR EACH ROW EXECUTE FUNCTION surveys_answer_value_within_scale();
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS surveys_answer_value_within_scale ON surveys_answer;",
    "DROP FUNCTION IF EXISTS surveys_answer_value_within_scale();",
]

_SQLITE_CONDITION = """
    NEW.value IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM surveys_question q
         WHERE q.id = NEW.question_id AND NEW.value BETWEEN q.scale_min AND q.scale_max
    )
"""
SQLITE = [
    f"""
    CREATE TRIGGER surveys_answer_value_within_scale_{event.lower()}
    BEFORE {event} ON surveys_answer
    FOR EACH ROW WHEN {_SQLITE_CONDITION}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """
    for event in ("INSERT", "UPDATE")
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS surveys_answer_value_within_scale_{event};"
    for event in ("insert", "update")
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(
                f"No answer-scale trigger for {schema_editor.connection.vendor}."
            )
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
