from django.db import migrations, models


class Migration(migrations.Migration):
    """Spend holds are kept in the team's reporting currency (issue 15)."""

    dependencies = [
        ("reports", "0002_spend_holds"),
    ]

    operations = [
        migrations.RenameField(model_name="spendhold", old_name="amount_usd", new_name="amount"),
        migrations.AddField(
            model_name="spendhold",
            name="currency",
            field=models.CharField(default="USD", max_length=3),
        ),
    ]
