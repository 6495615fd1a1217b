FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 FIELD_ENCRYPTION_KEY=$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
    python manage.py collectstatic --noinput
RUN useradd --create-home inbox && chown -R inbox /app
USER inbox
EXPOSE 8000 8001
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
