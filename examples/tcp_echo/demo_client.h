/* demo_client.h - Linux client of the echo demo; returns the number of failures. */
#ifndef ECHO_DEMO_CLIENT_H
#define ECHO_DEMO_CLIENT_H
int demo_client_run(unsigned short port);
#endif
