from django.db import migrations, models


def claimed_to_held(apps, schema_editor):
    Node = apps.get_model("nodes", "Node")
    Node.objects.filter(claimed=True).update(held=1)


def held_to_claimed(apps, schema_editor):
    Node = apps.get_model("nodes", "Node")
    Node.objects.filter(held__gt=0).update(claimed=True)


class Migration(migrations.Migration):
    """A node holds a count of tasks (the one running and those queued ahead), not a flag."""

    dependencies = [
        ("nodes", "0003_node_capabilities_and_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="node",
            name="held",
            field=models.PositiveSmallIntegerField(
                default=0,
                editable=False,
                help_text="Tasks on the node: the one running and those queued ahead behind it.",
                verbose_name="prompts held",
            ),
        ),
        migrations.RunPython(claimed_to_held, held_to_claimed),
        migrations.RemoveField(model_name="node", name="claimed"),
    ]
