#!/bin/sh
# rabbitmq-server in the foreground with the user of RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS, as the
# rabbitmq image makes it (guest may connect from localhost only).
set -eu
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
listeners.tcp.default = 5672
CONF
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
# As the rabbitmq user, without Debian's wrapper (its `su` keeps SIGTERM from reaching the server).
cd /var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq \
  /usr/lib/rabbitmq/bin/rabbitmq-server
