//! Two ferrtc peers in one program: Alice offers a data channel, Bob answers, and they
//! talk over real UDP on 127.0.0.1.
//!
//! ```sh
//! cargo run -p ferrtc --example datachannel
//! ```

use ferrtc::net::HostAddresses;
use ferrtc::{Configuration, DataChannelInit, Event, PeerConnection};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = || Configuration::new().with_host_addresses(HostAddresses::loopback());
    let alice = PeerConnection::new(config()).await?;
    let bob = PeerConnection::new(config()).await?;

    let chat = alice
        .create_data_channel("chat", DataChannelInit::default())
        .await?;

    // Signalling, without trickle: each side gathers, then hands over its description.
    alice.set_local_description(None).await?;
    alice.gathering_complete().await?;
    let offer = alice.local_description().ok_or("no offer")?;
    bob.set_remote_description(offer).await?;
    bob.set_local_description(None).await?;
    bob.gathering_complete().await?;
    let answer = bob.local_description().ok_or("no answer")?;
    alice.set_remote_description(answer).await?;

    // Bob answers every message on the channel it came from.
    let bob_task = tokio::spawn(async move {
        while let Some(event) = bob.next_event().await {
            match event {
                Event::DataChannel(channel) => {
                    println!("bob: the peer opened {:?}", channel.label());
                    tokio::spawn(async move {
                        while let Some(m) = channel.recv().await {
                            let text = m.as_text().unwrap_or("<binary>").to_owned();
                            println!("bob: got {text:?}");
                            if channel.send(format!("re: {text}")).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                Event::ConnectionStateChange(state, _) => println!("bob: {state:?}"),
                _ => {}
            }
        }
    });

    chat.opened().await?;
    println!("alice: channel {:?} open, id {:?}", chat.label(), chat.id());
    for i in 0..3 {
        chat.send(format!("hello {i}")).await?;
        let reply = chat.recv().await.ok_or("channel closed")?;
        println!("alice: got {:?}", reply.as_text().unwrap_or("<binary>"));
        assert_eq!(reply.as_text(), Some(format!("re: hello {i}").as_str()));
    }
    alice.close().await;
    // Bob's task ends with the program (dropping it would close Bob's connection too).
    bob_task.abort();
    println!("done");
    Ok(())
}
