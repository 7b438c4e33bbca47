"""The alarm scheduler process: claims due alarms from the store (``loop``) and fires them through the API
(``firer``), as `squall scheduler` or inside `squall standalone`."""
