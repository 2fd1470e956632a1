from django.db import migrations, models


class Migration(migrations.Migration):
    """Budgets and member limits in the team's reporting currency, and a daily limit (issue 15)."""

    dependencies = [
        ("accounts", "0002_team_monthly_budget"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="daily_spend_limit",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="team",
            name="reporting_currency",
            field=models.CharField(default="USD", max_length=3),
        ),
    ]
