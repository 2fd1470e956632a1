"""`python manage.py sandbox`: run the sandbox provider."""
