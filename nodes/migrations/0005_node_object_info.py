import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Each node's whole `/object_info` answer, stored once per distinct answer. Nodes that said
    what they can run before this have none until they are next asked (within
    NODE__CAPABILITIES_INTERVAL); until then the pool's `/object_info` leaves them out."""

    dependencies = [
        ("nodes", "0004_node_held"),
    ]

    operations = [
        migrations.CreateModel(
            name="ObjectInfo",
            fields=[
                ("digest", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("body", models.BinaryField()),
                ("size", models.PositiveBigIntegerField()),
                ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name="node",
            name="object_info",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="nodes",
                to="nodes.objectinfo",
            ),
        ),
    ]
