from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0007_request_claims"),
    ]

    operations = [
        migrations.AddField(
            model_name="mcpsession",
            name="get_stream_holder",
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.AddField(
            model_name="mcpsession",
            name="get_stream_node",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="mcpsession",
            name="get_stream_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
